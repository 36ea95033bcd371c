// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * droptrace: every kernel packet drop and TCP retransmit, with the namespace,
 * cgroup, device and packet facts that explain it.
 *
 * The programs run in whatever context freed the skb (often softirq), so
 * nothing here is attributed by `current`: netns and cgroup come from the
 * skb's device and socket.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "droptrace.h"
#include "core_fixes.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define AF_NETLINK 16
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
/* include/net/inet_connection_sock.h: a #define, so not in BTF */
#define ICSK_TIME_LOSS_PROBE 5
/* sk_buff.network_header when unset: skb_network_header_was_set() */
#define NETWORK_HEADER_UNSET ((__u16)~0U)
#define NSEC_PER_SEC 1000000000ULL

/* Wake the consumer only when this much is waiting; it polls on a timer otherwise. */
const volatile __u32 wakeup_bytes = 256 * 1024;
/* droptrace's own process (its drops are counted apart, never reported): 0 reports all */
const volatile __u32 self_tgid = 0;
/* CONFIG_HZ, read by the loader from the kernel's config; 0: not known */
const volatile __u32 kernel_hz = 0;

/* Keeps struct dt_event in the object's BTF (a ring buffer has no value type): the layout test reads it. */
const struct dt_event *dt_event_btf __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 * 1024 * 1024); /* the loader may resize */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DT_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* Exact drop counts by (netns, reason, location), whatever the event stream loses. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct dt_count_key);
	__type(value, __u64);
} drop_counts SEC(".maps");

/* Exact retransmit counts by (netns, kind), whatever the event stream holds back or loses. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct dt_rtx_count_key);
	__type(value, struct dt_rtx_count);
} rtx_counts SEC(".maps");
/*
 * The retransmits' rate-limit windows by (type, netns). Entries are never
 * deleted (a delete could lose a count in flight); a full map admits.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096); /* preallocated per CPU: the size is load time */
	__type(key, struct dt_limit_key);
	__type(value, struct dt_limit);
} limits SEC(".maps");

/* The drops' rate-limit windows (struct dt_limit_slot). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DT_LIMIT_SLOTS);
	__type(key, __u32);
	__type(value, struct dt_limit_slot);
} limit_slots SEC(".maps");

/* The kfree_skb programs' recent keys in front of drop_counts (struct dt_count_slot). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dt_count_slots);
} count_slots SEC(".maps");

/*
 * Drops admitted by the rate limit, by counter key: held back = counted -
 * admitted. Preallocated per CPU, so its size is start-up time: kinds of drop
 * past the 4096th that streams are held back (and counted) whole.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct dt_count_key);
	__type(value, __u64);
} drop_admitted SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dt_filter);
} filter_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DT_FILTER_NETNS_MAX);
	__type(key, __u32);
	__type(value, __u8);
} filter_netns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DT_FILTER_CGROUP_MAX);
	__type(key, __u64);
	__type(value, __u8);
} filter_cgroup SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DT_FILTER_ADDR_MAX);
	__type(key, struct dt_addr_key);
	__type(value, __u8);
} filter_addr SEC(".maps");

/*
 * The last neighbour creation that failed on this CPU (tracepoint neigh_create with no entry): the
 * NEIGH_CREATEFAIL drop that follows it in the same call (ip_finish_output2, ip6_finish_output2)
 * carries the table's fill and limit.
 */
struct dt_neigh_fail {
	__u64 ts_ns;
	__u32 entries;
	__u32 thresh3;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dt_neigh_fail);
} neigh_fail SEC(".maps");

/* A failed creation older than this does not explain a drop (the drop follows within microseconds). */
#define NEIGH_FAIL_MAX_AGE_NS 1000000ULL

static __always_inline void stat_add(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += n;
}

static __always_inline void stat_inc(__u32 idx)
{
	stat_add(idx, 1);
}

static __always_inline __u32 net_inum(const struct net *net)
{
	return net ? BPF_CORE_READ(net, ns.inum) : 0;
}

static __always_inline __u32 dev_netns(const struct net_device *dev)
{
	return net_inum(BPF_CORE_READ(dev, nd_net.net));
}

static __always_inline __u32 sk_netns(const struct sock *sk)
{
	return net_inum(BPF_CORE_READ(sk, __sk_common.skc_net.net));
}

/*
 * A veth's private data holds its peer; the device kind is told by
 * rtnl_link_ops->kind. struct veth_priv lives in the veth module
 * (drivers/net/veth.c), so its BTF exists only once veth is loaded (built in on
 * some kernels). With it, CO-RE places `peer`; without it (droptrace started
 * before the first veth was made), `peer` is read as the private area's first
 * member, where veth_priv has kept it since the driver was added (v2.6.24,
 * e314dbdc1c0d "[NET]: Virtual ethernet device driver."), so that a veth made
 * later is followed without reloading anything.
 */
static __always_inline struct net_device *veth_peer(const struct net_device *dev)
{
	const struct rtnl_link_ops *ops = BPF_CORE_READ(dev, rtnl_link_ops);
	struct net_device *peer = NULL;
	char kind[5] = {};
	void *priv;

	if (!ops)
		return NULL;
	bpf_probe_read_kernel_str(kind, sizeof(kind), BPF_CORE_READ(ops, kind));
	if (kind[0] != 'v' || kind[1] != 'e' || kind[2] != 't' || kind[3] != 'h' || kind[4])
		return NULL;
	priv = netdev_priv_addr(dev);
	if (bpf_core_type_exists(struct veth_priv))
		return BPF_CORE_READ((struct veth_priv *)priv, peer);
	bpf_probe_read_kernel(&peer, sizeof(peer), priv);
	return peer;
}

/* The in-kernel cgroup v2 id of a full socket; request and timewait socks have none. */
static __always_inline __u64 sk_cgroup_id(const struct sock *sk, __u8 state)
{
	if (!sk || state == TCP_NEW_SYN_RECV || state == TCP_TIME_WAIT)
		return 0;
	return sk_cgroup_kn_id(sk);
}

static __always_inline bool reason_allowed(const struct dt_filter *f, __u32 reason)
{
	__u32 word = reason / 64;

	if (!(f->flags & DT_FILTER_REASON))
		return true;
	if (word >= DT_REASON_WORDS)
		return false;
	return f->reasons[word & (DT_REASON_WORDS - 1)] & (1ULL << (reason % 64));
}

static __always_inline bool addr_in_filter(__u8 family, const __u8 *addr)
{
	struct dt_addr_key key = {.family = family};

	__builtin_memcpy(key.addr, addr, DT_ADDR_LEN);
	return bpf_map_lookup_elem(&filter_addr, &key) != NULL;
}

/*
 * Entity filters (netns, cgroup, address) are alternatives: an event concerns
 * a container when any of them holds. Protocol and port narrow further.
 */
static __always_inline bool entity_allowed(const struct dt_filter *f, const struct dt_event *e)
{
	if (!(f->flags & (DT_FILTER_NETNS | DT_FILTER_CGROUP | DT_FILTER_ADDR)))
		return true;
	if (f->flags & DT_FILTER_NETNS) {
		if (e->netns && bpf_map_lookup_elem(&filter_netns, &e->netns))
			return true;
		if (e->peer_netns && bpf_map_lookup_elem(&filter_netns, &e->peer_netns))
			return true;
	}
	if ((f->flags & DT_FILTER_CGROUP) && e->cgroup_id &&
	    bpf_map_lookup_elem(&filter_cgroup, &e->cgroup_id))
		return true;
	if ((f->flags & DT_FILTER_ADDR) && e->family &&
	    (addr_in_filter(e->family, e->saddr) || addr_in_filter(e->family, e->daddr)))
		return true;
	return false;
}

static __always_inline bool l4_allowed(const struct dt_filter *f, const struct dt_event *e)
{
	if ((f->flags & DT_FILTER_PROTO) && e->l4proto != f->l4proto)
		return false;
	if ((f->flags & DT_FILTER_PORT) && e->sport != f->port && e->dport != f->port)
		return false;
	return true;
}

/* The 5-tuple and TCP flags from the packet's own headers. */
static __always_inline void parse_headers(struct dt_event *e, const struct sk_buff *skb)
{
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	__u16 proto = bpf_ntohs(BPF_CORE_READ(skb, protocol));
	unsigned char *l4;
	__u8 l4proto;

	e->protocol = proto;
	if (!head || nh == NETWORK_HEADER_UNSET)
		return;
	if (proto == ETH_P_IP) {
		struct iphdr ip;

		if (bpf_probe_read_kernel(&ip, sizeof(ip), head + nh) || ip.version != 4)
			return;
		e->family = AF_INET;
		__builtin_memcpy(e->saddr, &ip.saddr, 4);
		__builtin_memcpy(e->daddr, &ip.daddr, 4);
		l4proto = ip.protocol;
		l4 = head + nh + ip.ihl * 4;
	} else if (proto == ETH_P_IPV6) {
		struct ipv6hdr ip6;

		if (bpf_probe_read_kernel(&ip6, sizeof(ip6), head + nh) || ip6.version != 6)
			return;
		e->family = AF_INET6;
		__builtin_memcpy(e->saddr, &ip6.saddr, DT_ADDR_LEN);
		__builtin_memcpy(e->daddr, &ip6.daddr, DT_ADDR_LEN);
		/* extension headers are not walked: the next header is reported as is */
		l4proto = ip6.nexthdr;
		l4 = head + nh + sizeof(ip6);
	} else {
		return;
	}
	e->l4proto = l4proto;
	if (l4proto == IPPROTO_TCP) {
		__u8 th[14];

		if (bpf_probe_read_kernel(th, sizeof(th), l4))
			return;
		e->sport = (th[0] << 8) | th[1];
		e->dport = (th[2] << 8) | th[3];
		e->tcp_flags = th[13];
	} else if (l4proto == IPPROTO_UDP) {
		__u8 uh[4];

		if (bpf_probe_read_kernel(uh, sizeof(uh), l4))
			return;
		e->sport = (uh[0] << 8) | uh[1];
		e->dport = (uh[2] << 8) | uh[3];
	}
}

/* The tuple from a socket: for packets without an IP header yet, and for retransmits. */
static __always_inline void sock_common_tuple(struct dt_event *e, const struct sock_common *skc)
{
	__u16 family = BPF_CORE_READ(skc, skc_family);

	if (family == AF_INET) {
		e->family = AF_INET;
		BPF_CORE_READ_INTO((__u32 *)e->saddr, skc, skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)e->daddr, skc, skc_daddr);
	} else if (family == AF_INET6) {
		e->family = AF_INET6;
		BPF_CORE_READ_INTO((struct in6_addr *)e->saddr, skc, skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO((struct in6_addr *)e->daddr, skc, skc_v6_daddr);
	} else {
		return;
	}
	e->sport = BPF_CORE_READ(skc, skc_num);
	e->dport = bpf_ntohs(BPF_CORE_READ(skc, skc_dport));
}

static __always_inline void sock_facts(struct dt_event *e, const struct sock *sk)
{
	if (e->sk_state == TCP_LISTEN) {
		e->queue_len = BPF_CORE_READ(sk, sk_ack_backlog);
		e->queue_limit = BPF_CORE_READ(sk, sk_max_ack_backlog);
	} else if (e->sk_state != TCP_NEW_SYN_RECV && e->sk_state != TCP_TIME_WAIT) {
		e->rcvbuf_used = BPF_CORE_READ(sk, sk_backlog.rmem_alloc.counter);
		e->rcvbuf_size = BPF_CORE_READ(sk, sk_rcvbuf);
	}
}

static __always_inline void device_facts(struct dt_event *e, const struct net_device *dev,
					 const struct net_device *peer)
{
	const struct Qdisc *q = BPF_CORE_READ(dev, qdisc);

	e->ifindex = BPF_CORE_READ(dev, ifindex);
	e->mtu = BPF_CORE_READ(dev, mtu);
	bpf_probe_read_kernel_str(e->ifname, sizeof(e->ifname), dev->name);
	if (q) {
		e->qdisc_qlen = BPF_CORE_READ(q, q.qlen);
		e->qdisc_backlog = BPF_CORE_READ(q, qstats.backlog);
		bpf_probe_read_kernel_str(e->qdisc, sizeof(e->qdisc), BPF_CORE_READ(q, ops, id));
	}
	if (peer) {
		e->peer_ifindex = BPF_CORE_READ(peer, ifindex);
		e->peer_mtu = BPF_CORE_READ(peer, mtu);
		bpf_probe_read_kernel_str(e->peer_ifname, sizeof(e->peer_ifname), peer->name);
	}
}

static __always_inline void submit(struct dt_event *e)
{
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	__u64 flags = BPF_RB_NO_WAKEUP;

	/*
	 * Wake the consumer for the first event in an empty ring (it sleeps in
	 * epoll while idle) and as the ring crosses wakeup_bytes; otherwise it is
	 * draining on its own timer. Waking it for every event costs microseconds
	 * each (per-event wake-ups made a storm 5x slower here).
	 */
	if (avail == 0 || (avail < wakeup_bytes && avail + sizeof(*e) >= wakeup_bytes))
		flags = BPF_RB_FORCE_WAKEUP;
	if (bpf_ringbuf_output(&events, e, sizeof(*e), flags)) {
		stat_inc(DT_STAT_LOST);
		return;
	}
	stat_inc(DT_STAT_SENT);
}

/*
 * The rate limit, before anything is read for the event or the ring buffer is
 * touched: a key's first rate_limit events of each second (per CPU) go
 * through, the rest are counted by key. A held-back drop has already been
 * counted in drop_counts, so the summary and top stay exact.
 */
static __noinline bool limit_admit(const struct dt_limit_key *key, __u32 limit, __u64 now)
{
	struct dt_limit fresh = {.window_ns = now, .admitted = 1};
	struct dt_limit *l;

	l = bpf_map_lookup_elem(&limits, key);
	if (!l) {
		if (!bpf_map_update_elem(&limits, key, &fresh, BPF_NOEXIST))
			return true;
		/* another CPU created the key (this CPU's window is zero), or the map is full */
		l = bpf_map_lookup_elem(&limits, key);
		if (!l)
			return true;
	}
	if (now - l->window_ns >= NSEC_PER_SEC) {
		l->window_ns = now;
		l->admitted = 0;
	}
	if (l->admitted < limit) {
		l->admitted++;
		return true;
	}
	l->suppressed++;
	stat_inc(DT_STAT_SUPPRESSED);
	return false;
}

/* Adds one to a per-CPU u64 by key; false when the map is full. */
static __always_inline bool count_by_key(void *map, const struct dt_count_key *key)
{
	__u64 one = 1, *v;

	v = bpf_map_lookup_elem(map, key);
	if (v) {
		*v += 1;
		return true;
	}
	if (!bpf_map_update_elem(map, key, &one, BPF_NOEXIST))
		return true;
	/* another CPU created the key meanwhile, or the map is full */
	v = bpf_map_lookup_elem(map, key);
	if (!v)
		return false;
	*v += 1;
	return true;
}

static __always_inline bool same_key(const struct dt_count_key *a, const struct dt_count_key *b)
{
	return a->location == b->location && a->netns == b->netns && a->reason == b->reason &&
	       a->detect == b->detect;
}

/* Fibonacci hashing of a key's words: the top bits index its slot. */
static __always_inline __u64 key_hash(const struct dt_count_key *key)
{
	return (key->location ^ ((__u64)key->netns << 32 | key->reason) ^ ((__u64)key->detect << 56)) *
	       0x9E3779B97F4A7C15ULL;
}

/*
 * The key's count slot on this CPU, for drops of the kfree_skb programs only:
 * they never run nested on one CPU, which the slot's moves rely on (another
 * program could interrupt one half way). NULL for the others.
 */
static __always_inline struct dt_count_slot *count_slot(const struct dt_count_key *key)
{
	struct dt_count_slots *all;
	__u32 zero = 0;

	if (key->detect != DT_DETECT_KFREE_SKB)
		return NULL;
	all = bpf_map_lookup_elem(&count_slots, &zero);
	if (!all)
		return NULL;
	return &all->slot[(key_hash(key) >> 60) & (DT_COUNT_SLOTS - 1)];
}

static __always_inline bool slot_holds(const struct dt_count_slot *s, const struct dt_count_key *key)
{
	return s && s->seq && same_key(&s->key, key);
}

/*
 * Counts one drop: in its slot while the key holds it, else in drop_counts,
 * where the key then takes the slot over. False when drop_counts is full.
 */
static __always_inline bool count_drop(const struct dt_count_key *key, struct dt_count_slot *s, bool listed,
				       __u32 filter_gen)
{
	struct dt_count_key old;
	__u64 pending, *v;

	if (slot_holds(s, key)) {
		s->pending++;
		return true;
	}
	if (!count_by_key(&drop_counts, key)) {
		stat_inc(DT_STAT_COUNTER_FULL);
		return false;
	}
	if (!s)
		return true;
	old = s->key;
	pending = s->pending;
	/*
	 * The slot changes hands before the old key's pending reaches
	 * drop_counts: a reader in between counts it low, never twice. Plain
	 * stores, in this order: x86 keeps them so, and user space also compares
	 * the key before and after for CPUs that would not.
	 */
	s->seq++;
	s->key = *key;
	s->pending = 0;
	s->filter_gen = filter_gen;
	s->listed = listed;
	if (pending) {
		v = bpf_map_lookup_elem(&drop_counts, &old);
		if (v)
			*v += pending;
		else
			stat_add(DT_STAT_COUNTER_FULL, pending);
	}
	s->seq++;
	return true;
}

/*
 * The drops' rate-limit clock: jiffies where the loader found the kernel's HZ
 * (reading them is a load; a clock read was most of what a held-back drop cost
 * on a VM, bench/), else bpf_ktime_get_ns(). A window is limit_second() ticks.
 */
static __always_inline __u64 limit_now(void)
{
	return kernel_hz ? bpf_jiffies64() : bpf_ktime_get_ns();
}

static __always_inline __u64 limit_second(void)
{
	return kernel_hz ? kernel_hz : NSEC_PER_SEC;
}

/*
 * A drop's rate limit: its key's window in limit_slots, no hash-map look-up
 * for a held-back drop. An admitted one is counted in drop_admitted; when that
 * map is full the drop is held back instead, so that counted - admitted stays
 * exactly what was held back.
 */
static __always_inline bool drop_admit(const struct dt_count_key *key, __u32 limit)
{
	__u32 idx = (key_hash(key) >> 56) & (DT_LIMIT_SLOTS - 1);
	struct dt_limit_slot *s = bpf_map_lookup_elem(&limit_slots, &idx);
	__u64 now = limit_now();

	if (!s)
		return true;
	if (!same_key(&s->key, key)) {
		s->key = *key;
		s->window = now;
		s->admitted = 0;
	} else if (now - s->window >= limit_second()) {
		s->window = now;
		s->admitted = 0;
	}
	if (s->admitted < limit && count_by_key(&drop_admitted, key)) {
		s->admitted++;
		return true;
	}
	stat_inc(DT_STAT_SUPPRESSED);
	return false;
}

/*
 * Counts a matched drop and decides whether it becomes an event: false when
 * it is count-only (summary mode) or the rate limit holds it back. *ts is the
 * event's time when it is one.
 */
static __always_inline bool count_and_admit(const struct dt_filter *f, const struct dt_count_key *key,
					    struct dt_count_slot *s, bool listed, __u64 *ts)
{
	bool counted;

	stat_inc(DT_STAT_MATCHED);
	counted = count_drop(key, s, listed, f->gen);
	if (!f->emit)
		return false;
	/* an uncounted drop (counter map full) is streamed: its held-back count could not be told */
	if (f->rate_limit && counted && !drop_admit(key, f->rate_limit))
		return false;
	*ts = bpf_ktime_get_ns();
	return true;
}

/* Whether the drop's netns is in filter_netns: from its key's slot when that holds this filter's verdict. */
static __always_inline bool netns_listed(const struct dt_filter *f, const struct dt_count_key *key,
					 struct dt_count_slot *s)
{
	bool listed;

	if (!(f->flags & DT_FILTER_NETNS) || !key->netns)
		return false;
	if (slot_holds(s, key) && s->filter_gen == f->gen)
		return s->listed;
	listed = bpf_map_lookup_elem(&filter_netns, &key->netns) != NULL;
	if (slot_holds(s, key)) {
		s->filter_gen = f->gen;
		s->listed = listed;
	}
	return listed;
}

static __always_inline void neigh_facts(struct dt_event *e)
{
	__u32 zero = 0;
	struct dt_neigh_fail *nf = bpf_map_lookup_elem(&neigh_fail, &zero);

	if (!nf || !nf->ts_ns || e->ts_ns - nf->ts_ns > NEIGH_FAIL_MAX_AGE_NS)
		return;
	e->neigh_entries = nf->entries;
	e->gc_thresh3 = nf->thresh3;
	nf->ts_ns = 0;
}

static __always_inline int record_neigh_fail(__u32 entries, __u32 thresh3)
{
	__u32 zero = 0;
	struct dt_neigh_fail *nf = bpf_map_lookup_elem(&neigh_fail, &zero);

	if (!nf)
		return 0;
	nf->ts_ns = bpf_ktime_get_ns();
	nf->entries = entries;
	nf->thresh3 = thresh3;
	return 0;
}

/*
 * droptrace's own drops: a unix or netlink socket's skb freed in droptrace's
 * own process. Such sockets carry no traffic from elsewhere and their connect
 * and send paths run in their user's process context, so `current` is exact
 * here (unlike for packets). Seen on 6.1 and 6.12: its connect() to a missing
 * /var/run/docker.sock frees the connect skb at unix_stream_connect. The
 * processes it runs (iptables-save, nft) are not told apart from a user's
 * command under `check`; their netlink purges are benign by classification.
 */
static __always_inline bool own_drop(const struct sock *sk)
{
	__u16 family;

	if (!self_tgid || !sk)
		return false;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_UNIX && family != AF_NETLINK)
		return false;
	return (bpf_get_current_pid_tgid() >> 32) == self_tgid;
}

/*
 * One drop. The twins read skb->dev, skb->sk (else rx_sk) and the device's netns
 * themselves: the tp_btf one with plain loads through typed pointers, the
 * classic one with probe reads. Those are on every drop's path, summary mode too.
 */
static __always_inline int handle_drop(struct sk_buff *skb, struct net_device *dev, struct sock *sk,
				       __u32 dev_netns_inum, __u64 location, __u32 reason, __u8 detect)
{
	struct dt_event e;
	const struct dt_filter *f;
	struct net_device *peer = NULL;
	struct dt_count_key key = {.location = location, .reason = reason, .detect = detect};
	struct dt_count_slot *slot;
	bool in_netns, full_filter, all;
	__u64 ts = 0;
	__u32 zero = 0;

	stat_inc(DT_STAT_SEEN);
	f = bpf_map_lookup_elem(&filter_cfg, &zero);
	if (!f || !reason_allowed(f, reason))
		return 0;
	if (own_drop(sk)) {
		stat_inc(DT_STAT_OWN);
		return 0;
	}

	/* netns from the device, else the socket: skb->dev is NULL inside TCP and on OUTPUT */
	key.netns = dev_netns_inum;
	if (sk && !key.netns)
		key.netns = sk_netns(sk);
	slot = count_slot(&key);
	in_netns = netns_listed(f, &key, slot);

	/*
	 * When the netns decides (no filter, or the drop's own netns is listed),
	 * the drop is counted and rate-limited before anything else is read: a
	 * count-only or held-back drop costs the netns reads, the look-ups and the
	 * counters. Filters that need the veth peer, the cgroup or the packet read
	 * everything first. One copy of the reads below serves both orders.
	 */
	full_filter = (f->flags & (DT_FILTER_CGROUP | DT_FILTER_ADDR | DT_FILTER_PROTO | DT_FILTER_PORT)) ||
		      ((f->flags & DT_FILTER_NETNS) && !in_netns);
	if (!full_filter && !count_and_admit(f, &key, slot, in_netns, &ts))
		return 0;

	__builtin_memset(&e, 0, sizeof(e));
	e.type = DT_EVENT_DROP;
	e.location = location;
	e.reason = reason;
	e.detect = detect;
	e.netns = key.netns;
	e.ts_ns = ts;

	/* an admitted event reads everything; a filter in summary mode what it tests */
	all = !full_filter || f->emit;
	if (sk && (all || (f->flags & DT_FILTER_CGROUP))) {
		e.sk_state = BPF_CORE_READ(sk, __sk_common.skc_state);
		e.cgroup_id = sk_cgroup_id(sk, e.sk_state);
	}
	if (dev && (all || ((f->flags & DT_FILTER_NETNS) && !in_netns))) {
		peer = veth_peer(dev);
		if (peer)
			e.peer_netns = dev_netns(peer);
	}
	if (all || (f->flags & (DT_FILTER_ADDR | DT_FILTER_PROTO | DT_FILTER_PORT))) {
		parse_headers(&e, skb);
		if (!e.family && sk)
			sock_common_tuple(&e, &sk->__sk_common);
	}

	if (full_filter) {
		if (!(in_netns || entity_allowed(f, &e)) || !l4_allowed(f, &e))
			return 0;
		if (!count_and_admit(f, &key, slot, in_netns, &e.ts_ns))
			return 0;
	}

	e.len = BPF_CORE_READ(skb, len);
	e.direction = BPF_CORE_READ(skb, skb_iif) ? DT_DIR_RX : (sk ? DT_DIR_TX : DT_DIR_UNKNOWN);
	if (dev)
		device_facts(&e, dev, peer);
	if (sk)
		sock_facts(&e, sk);
	if (bpf_core_enum_value_exists(enum skb_drop_reason, SKB_DROP_REASON_NEIGH_CREATEFAIL) &&
	    reason == bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_NEIGH_CREATEFAIL))
		neigh_facts(&e);
	submit(&e);
	return 0;
}

/* The retransmit's kind, told from the socket's congestion state and pending timer. */
static __always_inline __u8 retransmit_kind(const struct sock *sk, __u8 state, __u8 ca_state)
{
	const struct inet_connection_sock *icsk = (const struct inet_connection_sock *)sk;

	if (state == TCP_SYN_SENT)
		return DT_RTX_SYN;
	if (ca_state == TCP_CA_Loss)
		return DT_RTX_RTO;
	if (ca_state == TCP_CA_Recovery)
		return DT_RTX_FAST;
	if (BPF_CORE_READ(icsk, icsk_pending) == ICSK_TIME_LOSS_PROBE)
		return DT_RTX_TLP;
	return DT_RTX_UNKNOWN;
}

/* tcp_skb_pcount(): the segment count TCP keeps in the skb's control block (TcpRetransSegs adds it) */
static __always_inline __u32 tcp_skb_segs(const struct sk_buff *skb)
{
	const struct tcp_skb_cb *cb = (const void *)skb + bpf_core_field_offset(struct sk_buff, cb);

	return BPF_CORE_READ(cb, tcp_gso_segs);
}

/*
 * Every matched retransmit, summary mode too, counted by (netns, kind): the
 * kind is read here so that the count does not depend on the event being sent.
 */
static __always_inline void count_retransmit(const struct sock *sk, __u8 type, __u32 netns, __u8 state,
					     __u32 segs)
{
	struct dt_rtx_count_key key = {.netns = netns, .kind = DT_RTX_SYNACK};
	struct dt_rtx_count first = {.calls = 1, .segs = segs}, *v;

	if (type != DT_EVENT_SYNACK)
		key.kind = retransmit_kind(
		    sk, state,
		    BPF_CORE_READ_BITFIELD_PROBED((const struct inet_connection_sock *)sk, icsk_ca_state));
	v = bpf_map_lookup_elem(&rtx_counts, &key);
	if (!v) {
		if (!bpf_map_update_elem(&rtx_counts, &key, &first, BPF_NOEXIST))
			return;
		/* another CPU created the key meanwhile, or the map is full */
		v = bpf_map_lookup_elem(&rtx_counts, &key);
		if (!v) {
			stat_inc(DT_STAT_COUNTER_FULL);
			return;
		}
	}
	v->calls += 1;
	v->segs += segs;
}

static __always_inline int handle_retransmit(const struct sock *sk, const struct sock_common *tuple_from,
					     __u8 type, int err, __u32 segs)
{
	struct dt_event e;
	const struct dt_filter *f;
	__u32 zero = 0;

	stat_inc(DT_STAT_SEEN);
	f = bpf_map_lookup_elem(&filter_cfg, &zero);
	if (!f || !sk)
		return 0;
	__builtin_memset(&e, 0, sizeof(e));
	e.type = type;
	e.err = err;
	e.segs = segs;
	e.l4proto = IPPROTO_TCP;
	e.netns = sk_netns(sk);
	e.sk_state = BPF_CORE_READ(sk, __sk_common.skc_state);
	e.cgroup_id = sk_cgroup_id(sk, e.sk_state);
	sock_common_tuple(&e, tuple_from);
	if (!entity_allowed(f, &e) || !l4_allowed(f, &e))
		return 0;
	stat_inc(DT_STAT_MATCHED);
	stat_inc(DT_STAT_RETRANSMITS);
	count_retransmit(sk, type, e.netns, e.sk_state, segs);
	if (!f->emit)
		return 0;
	e.ts_ns = bpf_ktime_get_ns();
	if (f->rate_limit) {
		/* one key for both kinds of retransmit in a namespace */
		struct dt_limit_key lk = {.netns = e.netns, .type = DT_EVENT_RETRANSMIT};

		if (!limit_admit(&lk, f->rate_limit, e.ts_ns))
			return 0;
	}
	if (type == DT_EVENT_SYNACK) {
		e.rtx_kind = DT_RTX_SYNACK;
		/* the connection's state, as ss shows it; the listener's (LISTEN) says nothing */
		e.sk_state = TCP_SYN_RECV;
	} else {
		e.ca_state =
		    BPF_CORE_READ_BITFIELD_PROBED((const struct inet_connection_sock *)sk, icsk_ca_state);
		e.rtx_kind = retransmit_kind(sk, e.sk_state, e.ca_state);
	}
	e.direction = DT_DIR_TX;
	submit(&e);
	return 0;
}

/* tp_btf twins: typed arguments, cheapest to attach. The loader disables one set. */
SEC("tp_btf/kfree_skb")
int BPF_PROG(kfree_skb_btf, struct sk_buff *skb, void *location, enum skb_drop_reason reason)
{
	struct net_device *dev = skb->dev;
	struct sock *sk = skb->sk;

	if (!sk)
		sk = kfree_skb_rx_sk_arg(ctx);
	return handle_drop(skb, dev, sk, dev ? dev->nd_net.net->ns.inum : 0, (__u64)location, reason,
			   DT_DETECT_KFREE_SKB);
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(tcp_rtx_btf, const struct sock *sk, const struct sk_buff *skb)
{
	int err = tcp_rtx_err_arg(ctx);

	return handle_retransmit(sk, &sk->__sk_common, DT_EVENT_RETRANSMIT, err, tcp_skb_segs(skb));
}

SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(tcp_synack_btf, const struct sock *sk, const struct request_sock *req)
{
	return handle_retransmit(sk, &req->__req_common, DT_EVENT_SYNACK, 0, 1);
}

/*
 * neigh_create fires for every creation attempt, with no entry when neigh_alloc() refused: the
 * table held gc_thresh3 entries that forced GC could not free (net/core/neighbour.c). Creations
 * are rare; only failures write anything.
 */
SEC("tp_btf/neigh_create")
int BPF_PROG(neigh_create_btf, struct neigh_table *tbl, struct net_device *dev, const void *pkey,
	     const struct neighbour *n)
{
	if (n)
		return 0;
	return record_neigh_fail(BPF_CORE_READ(tbl, gc_entries.counter), BPF_CORE_READ(tbl, gc_thresh3));
}

/*
 * SYNs a listener refused. tcp_rcv_state_process() hands a listener's SYN to conn_request and then
 * frees it with consume_skb() whether or not the request was queued (net/ipv4/tcp_input.c), so the
 * refusal is not a kfree_skb. What tells them apart is what tcp_conn_request() counted on the way:
 * ListenOverflows (accept queue full), TCPReqQFullDrop (SYN queue full, no cookies) and ListenDrops
 * (every refusal, tcp_listendrop()). They are per-CPU counters of the namespace, and conn_request and
 * this tracepoint run on one CPU in one softirq, so a rise of this CPU's ListenDrops since the last
 * SYN this CPU saw in that namespace is this SYN's refusal. The per-CPU address comes from a
 * PERCPU_ARRAY: this CPU's element minus the map's own per-CPU pointer.
 *
 * Cost: every consume_skb on the host runs the location compare (the loader attaches it only on
 * kernels whose consume_skb has `location`); listener SYNs then read three counters.
 */
/*
 * tcp_rcv_state_process, from kallsyms: set after loading (the load does not
 * wait for the symbol table), before the program is first attached. While
 * the size is 0 no call matches.
 */
__u64 listen_fn_start = 0;
__u64 listen_fn_size = 0;
/* LINUX_MIB_* indexes (an anonymous enum: the loader reads them from BTF) */
const volatile __u32 mib_listen_overflows = 0;
const volatile __u32 mib_listen_drops = 0;
const volatile __u32 mib_reqq_full_drop = 0;
const volatile __u32 nr_cpus = 0; /* possible CPUs: every one gets a baseline */

#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_ACK 0x10
#define SKB_DST_NOREF 1UL

/* This CPU's last seen values of a namespace's listener counters. */
struct dt_syn_base {
	__u64 overflows;
	__u64 drops;
	__u64 reqq_full;
	/*
	 * Set when this CPU wrote it: an element made from a BPF program holds
	 * that CPU's value and zeros for every other CPU, which are no baseline.
	 */
	__u64 valid;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32); /* netns inode */
	__type(value, struct dt_syn_base);
} syn_base SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} cpu_off SEC(".maps");

/* A pointer's value as a number (the verifier allows no arithmetic on map pointers themselves). */
static __always_inline __u64 ptr_value(const void *p)
{
	__u64 v = 0;

	bpf_probe_read_kernel(&v, sizeof(v), &p);
	return v;
}

/* this_cpu_ptr(p) - p, for any per-CPU pointer p */
/* A CPU's per-CPU offset: cpu_off's element on that CPU minus struct bpf_array.pptrs[0]. */
static __always_inline __u64 cpu_offset(__u32 cpu)
{
	__u32 zero = 0;
	__u64 *elem = bpf_map_lookup_percpu_elem(&cpu_off, &zero, cpu);
	__u64 base = 0;

	if (!elem)
		return 0;
	bpf_probe_read_kernel(
	    &base, sizeof(base),
	    (const void *)(ptr_value(&cpu_off) + bpf_core_field_offset(struct bpf_array, pptrs)));
	return base ? ptr_value(elem) - base : 0;
}

static __always_inline __u64 mib_value(__u64 mibs, __u32 idx)
{
	unsigned long v = 0;

	bpf_probe_read_kernel(&v, sizeof(v), (const void *)(mibs + (__u64)idx * sizeof(unsigned long)));
	return v;
}

struct syn_base_init {
	__u64 net_stats; /* the namespace's struct linux_mib __percpu * */
	__u32 netns;
};

/* bpf_loop callback: one CPU's baseline from that CPU's counters now */
static long init_syn_base(__u64 cpu, void *data)
{
	struct syn_base_init *init = data;
	struct dt_syn_base *b = bpf_map_lookup_percpu_elem(&syn_base, &init->netns, (__u32)cpu);
	__u64 off = cpu_offset((__u32)cpu);
	__u64 mibs;

	if (!b || !off)
		return 0;
	mibs = init->net_stats + off;
	b->overflows = mib_value(mibs, mib_listen_overflows);
	b->drops = mib_value(mibs, mib_listen_drops);
	b->reqq_full = mib_value(mibs, mib_reqq_full_drop);
	b->valid = 1;
	return 0;
}

static __always_inline int handle_listen_syn(struct sk_buff *skb, __u64 location)
{
	unsigned char *head = skb->head;
	__u16 nh = skb->network_header;
	__u16 th_off = skb->transport_header;
	struct dst_entry *dst;
	struct dt_syn_base cur, *base;
	struct syn_base_init init;
	struct net *net;
	__u64 mibs, off;
	__u32 netns;
	__u8 flags = 0, detect;

	if (!head || nh == NETWORK_HEADER_UNSET)
		return 0;
	/* the TCP header: transport_header is set by tcp_v4_rcv/tcp_v6_rcv */
	if (bpf_probe_read_kernel(&flags, 1, head + th_off + 13) ||
	    (flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) != TCP_FLAG_SYN)
		return 0;
	/* skb->dev is cleared by then; the input route still names the device (and so the netns) */
	dst = (struct dst_entry *)(skb->_skb_refdst & ~SKB_DST_NOREF);
	if (!dst)
		return 0;
	net = BPF_CORE_READ(dst, dev, nd_net.net);
	netns = net_inum(net);
	off = cpu_offset(bpf_get_smp_processor_id());
	if (!netns || !off)
		return 0;
	init.net_stats = (__u64)BPF_CORE_READ(net, mib.net_statistics);
	init.netns = netns;
	mibs = init.net_stats + off;
	cur.overflows = mib_value(mibs, mib_listen_overflows);
	cur.drops = mib_value(mibs, mib_listen_drops);
	cur.reqq_full = mib_value(mibs, mib_reqq_full_drop);
	cur.valid = 1;
	base = bpf_map_lookup_elem(&syn_base, &netns);
	if (!base) {
		/*
		 * The namespace's first SYN since attaching: every CPU's baseline is
		 * read now from its own counters (an element made here would hold
		 * zeros for the other CPUs, no baseline where they ever moved). This
		 * SYN cannot itself be judged: its refusal, if any, is counted already.
		 */
		struct dt_syn_base none = {};

		bpf_map_update_elem(&syn_base, &netns, &none, BPF_NOEXIST);
		bpf_loop(nr_cpus, init_syn_base, &init, 0);
		stat_inc(DT_STAT_SYN_UNJUDGED);
		return 0;
	}
	if (!base->valid) {
		/* another CPU is making the baselines right now: this one's is this SYN's counters */
		*base = cur;
		stat_inc(DT_STAT_SYN_UNJUDGED);
		return 0;
	}
	if (cur.drops == base->drops) {
		*base = cur;
		return 0;
	}
	if (cur.overflows != base->overflows)
		detect = DT_DETECT_SYN_ACCEPT_QUEUE;
	else if (cur.reqq_full != base->reqq_full)
		detect = DT_DETECT_SYN_SYN_QUEUE;
	else
		detect = DT_DETECT_SYN_LISTEN_DROP;
	*base = cur;
	if (!bpf_core_enum_value_exists(enum skb_drop_reason, SKB_DROP_REASON_TCP_LISTEN_OVERFLOW))
		return 0;
	return handle_drop(skb, NULL, NULL, netns, location,
			   bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_TCP_LISTEN_OVERFLOW),
			   detect);
}

SEC("tp_btf/consume_skb")
int BPF_PROG(listen_syn_btf, struct sk_buff *skb, void *location)
{
	/* one unsigned compare: only frees from inside tcp_rcv_state_process go further */
	if ((__u64)location - listen_fn_start >= listen_fn_size)
		return 0;
	return handle_listen_syn(skb, (__u64)location);
}

/* Classic tracepoint twins, for kernels whose tracepoints tp_btf cannot attach to. */
SEC("tracepoint/skb/kfree_skb")
int kfree_skb_tp(struct trace_event_raw_kfree_skb *ctx)
{
	struct sk_buff *skb = BPF_CORE_READ(ctx, skbaddr);
	struct net_device *dev = BPF_CORE_READ(skb, dev);
	struct sock *sk = BPF_CORE_READ(skb, sk);

	__u32 reason = 0;

	/* rx_sk was added to the tracepoint in v6.10 */
	if (!sk && bpf_core_field_exists(ctx->rx_sk))
		sk = BPF_CORE_READ(ctx, rx_sk);
	/*
	 * reason was added in v5.17 (c504e5c2f964 "net: skb: introduce
	 * kfree_skb_reason()"); before it, 0 (SKB_NOT_DROPPED_YET, never a
	 * reported drop) stands for none and user space derives one from the
	 * location.
	 */
	if (bpf_core_field_exists(ctx->reason))
		reason = BPF_CORE_READ(ctx, reason);
	return handle_drop(skb, dev, sk, dev ? dev_netns(dev) : 0, (__u64)BPF_CORE_READ(ctx, location),
			   reason, DT_DETECT_KFREE_SKB);
}

/*
 * The classic retransmit tracepoints' records begin with the 8-byte
 * trace_entry and the socket pointers, in that order on every kernel since
 * v4.16 (the struct names changed, the offsets did not).
 */
struct dt_tp_rtx_skb {
	__u64 ent;
	const void *skbaddr;
	const struct sock *skaddr;
};

struct dt_tp_rtx_synack {
	__u64 ent;
	const struct sock *skaddr;
	const struct request_sock *req;
};

SEC("tracepoint/tcp/tcp_retransmit_skb")
int tcp_rtx_tp(struct dt_tp_rtx_skb *ctx)
{
	const struct sock *sk = ctx->skaddr;

	return handle_retransmit(sk, &sk->__sk_common, DT_EVENT_RETRANSMIT, 0, tcp_skb_segs(ctx->skbaddr));
}

SEC("tracepoint/tcp/tcp_retransmit_synack")
int tcp_synack_tp(struct dt_tp_rtx_synack *ctx)
{
	const struct request_sock *req = ctx->req;

	return handle_retransmit(ctx->skaddr, &req->__req_common, DT_EVENT_SYNACK, 0, 1);
}

/* the classic record has the count the kernel compared (gc_entries) but not the limit */
SEC("tracepoint/neigh/neigh_create")
int neigh_create_tp(struct trace_event_raw_neigh_create *ctx)
{
	if (BPF_CORE_READ(ctx, created))
		return 0;
	return record_neigh_fail(BPF_CORE_READ(ctx, entries), 0);
}

/*
 * connect() failing with EADDRNOTAVAIL: no free local port for that destination (or no usable source
 * address). No packet exists, so nothing is dropped and no counter moves; the calling task is the
 * one that matters here (process context), so it is the one reported. The destination comes from
 * the sockaddr the call was given, kept from sys_enter_connect by thread.
 */
#define EADDRNOTAVAIL 99

struct dt_connect_arg {
	const void *uservaddr;
	__u32 addrlen;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32); /* thread id */
	__type(value, struct dt_connect_arg);
} connect_args SEC(".maps");

struct dt_tp_sys_enter_connect {
	__u64 ent;
	__s32 nr;
	__u32 _pad;
	__u64 fd;
	const void *uservaddr;
	__u64 addrlen;
};

struct dt_tp_sys_exit_connect {
	__u64 ent;
	__s32 nr;
	__u32 _pad;
	__s64 ret;
};

SEC("tracepoint/syscalls/sys_enter_connect")
int connect_enter_tp(struct dt_tp_sys_enter_connect *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct dt_connect_arg arg = {.uservaddr = ctx->uservaddr, .addrlen = (__u32)ctx->addrlen};

	bpf_map_update_elem(&connect_args, &tid, &arg, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int connect_exit_tp(struct dt_tp_sys_exit_connect *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id, zero = 0;
	struct dt_connect_arg *arg = bpf_map_lookup_elem(&connect_args, &tid);
	struct task_struct *task;
	const struct dt_filter *f;
	struct dt_event e;
	__u16 family = 0;
	__u8 sa[24];

	if (!arg)
		return 0;
	if (ctx->ret != -EADDRNOTAVAIL) {
		bpf_map_delete_elem(&connect_args, &tid);
		return 0;
	}
	__builtin_memset(&e, 0, sizeof(e));
	__builtin_memset(sa, 0, sizeof(sa));
	bpf_probe_read_user(sa, arg->addrlen < sizeof(sa) ? arg->addrlen & 31 : sizeof(sa), arg->uservaddr);
	bpf_map_delete_elem(&connect_args, &tid);
	stat_inc(DT_STAT_SEEN);
	f = bpf_map_lookup_elem(&filter_cfg, &zero);
	if (!f)
		return 0;
	e.type = DT_EVENT_CONNECT;
	e.err = -EADDRNOTAVAIL;
	e.pid = id >> 32;
	e.direction = DT_DIR_TX;
	bpf_get_current_comm(e.comm, sizeof(e.comm));
	e.cgroup_id = bpf_get_current_cgroup_id();
	task = (struct task_struct *)bpf_get_current_task();
	e.netns = net_inum(BPF_CORE_READ(task, nsproxy, net_ns));
	__builtin_memcpy(&family, sa, sizeof(family));
	/* struct sockaddr_in: family, port, address; sockaddr_in6: family, port, flowinfo, address */
	if (family == AF_INET) {
		e.family = AF_INET;
		__builtin_memcpy(e.daddr, sa + 4, 4);
	} else if (family == AF_INET6) {
		e.family = AF_INET6;
		__builtin_memcpy(e.daddr, sa + 8, DT_ADDR_LEN);
	}
	if (e.family) {
		e.dport = (sa[2] << 8) | sa[3];
		e.l4proto = IPPROTO_TCP;
	}
	if (!entity_allowed(f, &e) || !l4_allowed(f, &e))
		return 0;
	stat_inc(DT_STAT_MATCHED);
	stat_inc(DT_STAT_CONNECTS);
	if (!f->emit)
		return 0;
	e.ts_ns = bpf_ktime_get_ns();
	submit(&e);
	return 0;
}
