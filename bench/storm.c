// SPDX-License-Identifier: MIT
/*
 * storm: a UDP drop storm for the bench.
 *
 * A connected UDP socket sends batches of small datagrams with sendmmsg(),
 * pinned to one CPU so the storm's softirq work (veth xmit, netfilter, the
 * drop and any BPF program on it) stays on that CPU and the tracer gets the
 * other one. Runs for a bounded time, then prints what it sent as one JSON
 * object on stdout.
 *
 * usage: storm --dst ADDR --port PORT [--duration SEC] [--cpu N]
 *              [--size BYTES] [--batch N]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_BATCH 1024
#define MAX_SIZE 1400
#define MAX_DURATION 600.0

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s --dst ADDR --port PORT [--duration SEC] [--cpu N] [--size BYTES] [--batch N]\n",
		prog);
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"dst", required_argument, NULL, 'd'},
	    {"port", required_argument, NULL, 'p'},
	    {"duration", required_argument, NULL, 't'},
	    {"cpu", required_argument, NULL, 'c'},
	    {"size", required_argument, NULL, 's'},
	    {"batch", required_argument, NULL, 'b'},
	    {NULL, 0, NULL, 0},
	};
	static struct mmsghdr msgs[MAX_BATCH];
	static struct iovec iov;
	static char payload[MAX_SIZE];
	const char *dst = NULL;
	int port = 0, cpu = -1, size = 16, batch = 256, fd, opt, i;
	double duration = 5.0, start, end, elapsed;
	unsigned long long sent = 0, calls = 0, errors = 0;
	struct sockaddr_storage ss;
	socklen_t sslen;

	while ((opt = getopt_long(argc, argv, "d:p:t:c:s:b:", opts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			dst = optarg;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 't':
			duration = atof(optarg);
			break;
		case 'c':
			cpu = atoi(optarg);
			break;
		case 's':
			size = atoi(optarg);
			break;
		case 'b':
			batch = atoi(optarg);
			break;
		default:
			usage(argv[0]);
		}
	}
	/* bounded in time and size whatever the caller asks */
	if (!dst || port <= 0 || port > 65535 || duration <= 0 || duration > MAX_DURATION || size < 1 ||
	    size > MAX_SIZE || batch < 1 || batch > MAX_BATCH)
		usage(argv[0]);

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, dst, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
		sslen = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, dst, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
		sslen = sizeof(struct sockaddr_in6);
	} else {
		fprintf(stderr, "storm: bad address %s\n", dst);
		return 2;
	}

	if (cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set)) {
			perror("storm: sched_setaffinity");
			return 1;
		}
	}

	fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("storm: socket");
		return 1;
	}
	/* connected: the kernel routes once, not once per datagram */
	if (connect(fd, (struct sockaddr *)&ss, sslen)) {
		perror("storm: connect");
		return 1;
	}

	memset(payload, 'x', sizeof(payload));
	iov.iov_base = payload;
	iov.iov_len = size;
	for (i = 0; i < batch; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}

	start = now();
	end = start + duration;
	do {
		/* check the clock once per batch: cheap next to 256 sends */
		int n = sendmmsg(fd, msgs, batch, 0);

		calls++;
		if (n > 0) {
			sent += n;
		} else if (errno == ENOBUFS || errno == EAGAIN || errno == ECONNREFUSED || errno == EINTR) {
			errors++;
		} else {
			perror("storm: sendmmsg");
			return 1;
		}
	} while (now() < end);
	elapsed = now() - start;
	close(fd);

	printf("{\"sent\":%llu,\"calls\":%llu,\"errors\":%llu,\"elapsed_s\":%.6f,\"rate\":%.0f,"
	       "\"cpu\":%d,\"batch\":%d,\"size\":%d}\n",
	       sent, calls, errors, elapsed, sent / elapsed, cpu, batch, size);
	return 0;
}
