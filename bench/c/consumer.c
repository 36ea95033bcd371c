// SPDX-License-Identifier: MIT
/*
 * The bench's reference consumers, in C with libbpf:
 *
 *   consumer floor             the floor: bench/c/floor.bpf.c, an empty per-CPU
 *                              counter on tp_btf/kfree_skb; prints the count at exit
 *   consumer stream NETNS_INO  droptrace's own BPF object (its skeleton), filtered
 *                              to one netns, no rate limit, tp_btf programs; the
 *                              ring buffer read on a 10 ms timer (no epoll, no
 *                              wake-ups waited for) and one text line per event
 *                              written to stdout
 *
 * Both print "ready" on stderr once attached and run until SIGINT/SIGTERM, then
 * print one JSON object on stderr: {"delivered":N,"lost":N}.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>

#include "droptrace.h"
#include "droptrace.skel.h"
#include "floor.skel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static __u64 percpu_sum(int fd, __u32 key)
{
	int ncpus = libbpf_num_possible_cpus();
	__u64 values[ncpus > 0 ? ncpus : 1], sum = 0;

	if (bpf_map_lookup_elem(fd, &key, values))
		return 0;
	for (int i = 0; i < ncpus; i++)
		sum += values[i];
	return sum;
}

static int run_floor(void)
{
	struct floor_bpf *skel = floor_bpf__open_and_load();

	if (!skel || floor_bpf__attach(skel)) {
		fprintf(stderr, "consumer: floor: load/attach failed: %s\n", strerror(errno));
		return 1;
	}
	fprintf(stderr, "ready\n");
	while (!stop)
		sleep_ms(50);
	fprintf(stderr, "{\"delivered\":%llu,\"lost\":0}\n",
		(unsigned long long)percpu_sum(bpf_map__fd(skel->maps.hits), 0));
	floor_bpf__destroy(skel);
	return 0;
}

/* One line per event, formatted by hand into a large buffer written in big chunks. */
static char out[1 << 20];
static size_t out_len;
static __u64 delivered;

static void flush_out(void)
{
	size_t off = 0;

	while (off < out_len) {
		ssize_t n = write(STDOUT_FILENO, out + off, out_len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		off += n;
	}
	out_len = 0;
}

static char *put_u64(char *p, __u64 v)
{
	char tmp[24];
	int n = 0;

	do
		tmp[n++] = '0' + v % 10;
	while (v /= 10);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *put_ipv4(char *p, const __u8 *a)
{
	for (int i = 0; i < 4; i++) {
		p = put_u64(p, a[i]);
		*p++ = i < 3 ? '.' : ' ';
	}
	return p;
}

static int on_event(void *ctx, void *data, size_t size)
{
	const struct dt_event *e = data;
	char *p;

	(void)ctx;
	if (size < sizeof(*e))
		return 0;
	if (out_len > sizeof(out) - 256)
		flush_out();
	/* ts netns reason location saddr sport daddr dport len ifindex */
	p = out + out_len;
	p = put_u64(p, e->ts_ns);
	*p++ = ' ';
	p = put_u64(p, e->netns);
	*p++ = ' ';
	p = put_u64(p, e->reason);
	*p++ = ' ';
	p += sprintf(p, "%llx ", (unsigned long long)e->location);
	p = put_ipv4(p, e->saddr);
	p = put_u64(p, e->sport);
	*p++ = ' ';
	p = put_ipv4(p, e->daddr);
	p = put_u64(p, e->dport);
	*p++ = ' ';
	p = put_u64(p, e->len);
	*p++ = ' ';
	p = put_u64(p, e->ifindex);
	*p++ = '\n';
	out_len = p - out;
	delivered++;
	return 0;
}

static int run_stream(__u32 netns)
{
	struct droptrace_bpf *skel = droptrace_bpf__open();
	struct dt_filter filter = {.flags = DT_FILTER_NETNS, .emit = 1, .rate_limit = 0};
	struct ring_buffer *rb;
	__u32 zero = 0;
	__u8 one = 1;

	if (!skel) {
		fprintf(stderr, "consumer: open failed: %s\n", strerror(errno));
		return 1;
	}
	/* the tp_btf twins only, as droptrace loads them on this kernel */
	bpf_program__set_autoload(skel->progs.kfree_skb_tp, false);
	bpf_program__set_autoload(skel->progs.tcp_rtx_tp, false);
	bpf_program__set_autoload(skel->progs.tcp_synack_tp, false);
	skel->rodata->rtx_has_err = true;
	skel->rodata->kfree_skb_has_rx_sk = true;
	if (droptrace_bpf__load(skel)) {
		fprintf(stderr, "consumer: load failed: %s\n", strerror(errno));
		return 1;
	}
	bpf_map_update_elem(bpf_map__fd(skel->maps.filter_netns), &netns, &one, BPF_ANY);
	bpf_map_update_elem(bpf_map__fd(skel->maps.filter_cfg), &zero, &filter, BPF_ANY);
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_event, NULL, NULL);
	if (!rb || droptrace_bpf__attach(skel)) {
		fprintf(stderr, "consumer: attach failed: %s\n", strerror(errno));
		return 1;
	}
	fprintf(stderr, "ready\n");
	while (!stop) {
		sleep_ms(10);
		ring_buffer__consume(rb);
		flush_out();
	}
	droptrace_bpf__detach(skel);
	ring_buffer__consume(rb);
	flush_out();
	fprintf(stderr, "{\"delivered\":%llu,\"lost\":%llu}\n", (unsigned long long)delivered,
		(unsigned long long)percpu_sum(bpf_map__fd(skel->maps.stats), DT_STAT_LOST));
	ring_buffer__free(rb);
	droptrace_bpf__destroy(skel);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (argc == 2 && !strcmp(argv[1], "floor"))
		return run_floor();
	if (argc == 3 && !strcmp(argv[1], "stream"))
		return run_stream((__u32)strtoul(argv[2], NULL, 10));
	fprintf(stderr, "usage: consumer floor | consumer stream NETNS_INODE\n");
	return 2;
}
