/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel/user ABI of droptrace: the one definition of an event, of the
 * filter settings and of the counter key. The BPF object, the native addon and
 * (through the addon's exported offsets) the TypeScript decoder all read it.
 *
 * Rules: explicit-width fields only, largest first, explicit padding, and a
 * size assertion, so that clang's BPF target and the host compiler lay the
 * struct out identically (test/unit/layout.test.ts compares the object's BTF
 * against the addon's offsetof table).
 */
#ifndef DROPTRACE_H
#define DROPTRACE_H

/* _Static_assert is C11; the addon includes this header from C++ */
#ifdef __cplusplus
#define DT_STATIC_ASSERT static_assert
#else
#define DT_STATIC_ASSERT _Static_assert
#endif

#define DT_NAME_LEN 16	  /* IFNAMSIZ, and the length of Qdisc_ops.id */
#define DT_ADDR_LEN 16	  /* an IPv6 address; IPv4 uses the first 4 bytes */
#define DT_REASON_WORDS 8 /* bitmap of reasons 0..511 in 64-bit words */

enum dt_event_type {
	DT_EVENT_DROP = 1,
	DT_EVENT_RETRANSMIT = 2,
	DT_EVENT_SYNACK = 3,
	DT_EVENT_CONNECT = 4, /* connect() failed with EADDRNOTAVAIL: no free local port */
};

/* How a drop was seen (dt_event.detect). */
enum dt_detect {
	DT_DETECT_KFREE_SKB = 0, /* skb:kfree_skb, with the kernel's reason */
	/*
	 * A listener's SYN freed by consume_skb in tcp_rcv_state_process after this CPU's counter
	 * of the namespace rose in the same call: accept queue full (ListenOverflows), SYN queue full
	 * without cookies (TCPReqQFullDrop), or another refusal (ListenDrops alone).
	 */
	DT_DETECT_SYN_ACCEPT_QUEUE = 1,
	DT_DETECT_SYN_SYN_QUEUE = 2,
	DT_DETECT_SYN_LISTEN_DROP = 3,
};

enum dt_direction {
	DT_DIR_UNKNOWN = 0,
	DT_DIR_RX = 1,
	DT_DIR_TX = 2,
};

enum dt_retransmit_kind {
	DT_RTX_UNKNOWN = 0,
	DT_RTX_RTO = 1,
	DT_RTX_FAST = 2,
	DT_RTX_TLP = 3,
	DT_RTX_SYN = 4,
	DT_RTX_SYNACK = 5,
};

/* Bits of dt_filter.flags: which entity sets are in force. */
enum dt_filter_flag {
	DT_FILTER_NETNS = 1 << 0,
	DT_FILTER_CGROUP = 1 << 1,
	DT_FILTER_ADDR = 1 << 2,
	DT_FILTER_REASON = 1 << 3,
	DT_FILTER_PROTO = 1 << 4,
	DT_FILTER_PORT = 1 << 5,
};

/*
 * Capacity of each filter set (hash maps, preallocated: about 1 MiB each).
 * A node with a thousand containers follows a few thousand namespaces,
 * cgroups and addresses; user space refuses a set that does not fit.
 */
enum dt_filter_size {
	DT_FILTER_NETNS_MAX = 16384,
	DT_FILTER_CGROUP_MAX = 16384,
	DT_FILTER_ADDR_MAX = 16384,
};

/* Indexes into the per-CPU stats array. */
enum dt_stat {
	DT_STAT_SEEN = 0,	  /* every kfree_skb/retransmit the programs ran for */
	DT_STAT_MATCHED = 1,	  /* passed the filters */
	DT_STAT_SENT = 2,	  /* written to the ring buffer */
	DT_STAT_LOST = 3,	  /* ring buffer full: reservation failed */
	DT_STAT_COUNTER_FULL = 4, /* counter map full: drop not counted by key */
	DT_STAT_RETRANSMITS = 5,  /* retransmits among the matched */
	DT_STAT_SYN_UNJUDGED = 6, /* listener SYNs that set a namespace's per-CPU baseline (not judged) */
	DT_STAT_CONNECTS = 7,	  /* failed connects among the matched */
	DT_STAT_SUPPRESSED = 8,	  /* matched, held back by the rate limit */
	DT_STAT_OWN = 9,	  /* droptrace's own unix/netlink sockets' skbs */
	DT_STAT_MAX = 10,
};

/*
 * One drop, retransmit or failed connect. Fields that do not apply are zero. 216 bytes.
 */
struct dt_event {
	__u64 ts_ns;	 /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 location;	 /* kernel text address that freed the skb */
	__u64 cgroup_id; /* cgroup v2 id of a full socket, 0 when none */
	__u32 netns;	 /* net namespace inode of the drop */
	__u32 reason;	 /* enum skb_drop_reason as the running kernel numbers it; 0 before 5.17 */
	__u32 len;	 /* skb->len (meaning depends on the layer) */
	__u32 ifindex;
	__u32 mtu;
	__u32 peer_ifindex; /* veth: the other end */
	__u32 peer_mtu;
	__u32 peer_netns;
	__u32 rcvbuf_used;   /* sk_rmem_alloc: receive buffer in use (bytes) */
	__u32 rcvbuf_size;   /* sk_rcvbuf */
	__u32 queue_len;     /* listener: accept queue length (sk_ack_backlog) */
	__u32 queue_limit;   /* listener: accept queue limit (sk_max_ack_backlog) */
	__u32 qdisc_qlen;    /* root qdisc of the device */
	__u32 qdisc_backlog; /* bytes queued in it */
	__s32 err;	     /* retransmit: tcp_retransmit_skb's result */
	__u32 segs;	     /* retransmit: segments the skb carried (tcp_skb_pcount), 1 for a SYN-ACK */
	__u32 neigh_entries; /* NEIGH_CREATEFAIL: entries the neighbour table held when creation failed */
	__u32 gc_thresh3;    /* NEIGH_CREATEFAIL: that table's hard limit (0: not known) */
	__u32 pid;	     /* connect: the calling process (tgid) */
	__u8 saddr[DT_ADDR_LEN];
	__u8 daddr[DT_ADDR_LEN];
	__u16 sport; /* host order */
	__u16 dport;
	__u16 protocol; /* skb->protocol, host order (ETH_P_*) */
	__u8 type;	/* enum dt_event_type */
	__u8 family;	/* AF_INET, AF_INET6 or 0 */
	__u8 l4proto;	/* IPPROTO_* */
	__u8 tcp_flags;
	__u8 direction; /* enum dt_direction */
	__u8 sk_state;	/* TCP/socket state, 0 when no socket */
	__u8 rtx_kind;	/* enum dt_retransmit_kind */
	__u8 ca_state;	/* icsk_ca_state */
	__u8 detect;	/* enum dt_detect */
	__u8 _pad[5];
	char ifname[DT_NAME_LEN];
	char peer_ifname[DT_NAME_LEN];
	char qdisc[DT_NAME_LEN]; /* root qdisc kind (Qdisc_ops.id) */
	char comm[DT_NAME_LEN];	 /* connect: the calling task's comm */
};

DT_STATIC_ASSERT(sizeof(struct dt_event) == 216, "dt_event layout changed: update the size and the decoder");

/*
 * Key of the in-kernel drop counters: with how it was seen, so that counting
 * alone tells a SYN refused by a full accept queue from one refused by a full
 * SYN queue (the same reason and location). The reason keeps all 32 bits: a
 * subsystem's reasons (openvswitch, mac80211) sit in the upper 16.
 */
struct dt_count_key {
	__u64 location;
	__u32 netns;
	__u32 reason;
	__u8 detect; /* enum dt_detect */
	__u8 _pad[7];
};

DT_STATIC_ASSERT(sizeof(struct dt_count_key) == 24, "dt_count_key layout changed");

/* Key of the in-kernel retransmit counters. */
struct dt_rtx_count_key {
	__u32 netns;
	__u32 kind; /* enum dt_retransmit_kind */
};

DT_STATIC_ASSERT(sizeof(struct dt_rtx_count_key) == 8, "dt_rtx_count_key layout changed");

/* The retransmit counters: calls, and the segments they carried (TcpRetransSegs counts those). */
struct dt_rtx_count {
	__u64 calls;
	__u64 segs;
};

DT_STATIC_ASSERT(sizeof(struct dt_rtx_count) == 16, "dt_rtx_count layout changed");
/*
 * Key of the retransmits' rate limit: (type, netns), location and reason zero.
 * Drops are limited by their counter key (struct dt_limit_slot).
 */
struct dt_limit_key {
	__u64 location;
	__u32 netns;
	__u32 reason;
	__u32 type; /* enum dt_event_type; DT_EVENT_RETRANSMIT for SYN-ACKs too */
	__u32 _pad;
};

DT_STATIC_ASSERT(sizeof(struct dt_limit_key) == 24, "dt_limit_key layout changed");

/*
 * Per-CPU state of one retransmit key's limit: a one-second window that admits
 * dt_filter.rate_limit events, and what it has held back since the start.
 */
struct dt_limit {
	__u64 window_ns;  /* bpf_ktime_get_ns() when the current window opened */
	__u64 suppressed; /* held back, ever: user space reports the growth */
	__u32 admitted;	  /* events admitted in the current window */
	__u32 _pad;
};

DT_STATIC_ASSERT(sizeof(struct dt_limit) == 24, "dt_limit layout changed");

#define DT_LIMIT_SLOTS 256 /* per CPU; a power of two */

/*
 * One drop key's rate-limit window, in a per-CPU array indexed by a hash of
 * the key: a storm of one kind finds its window without a hash-map look-up.
 * Another key hashing to the slot takes it over with a fresh window (which can
 * only admit more). What was held back is not counted here: per key it is
 * drop_counts' count minus drop_admitted's.
 */
struct dt_limit_slot {
	struct dt_count_key key;
	__u64 window;	/* limit_now() when the current window opened, in its ticks (bpf/droptrace.bpf.c) */
	__u32 admitted; /* events admitted in the current window */
	__u32 _pad;
};

DT_STATIC_ASSERT(sizeof(struct dt_limit_slot) == 40, "dt_limit_slot layout changed");

#define DT_COUNT_SLOTS 16 /* per CPU; a power of two */

/*
 * A drop key the kfree_skb program saw lately on this CPU, in front of its
 * drop_counts entry: while the key holds the slot its drops add to `pending`,
 * with no hash-map look-up (the look-up was most of counting's cost). A key
 * holds a slot only once its drop_counts entry exists; a key that takes the
 * slot over moves the old key's pending into that entry. `seq` is odd while
 * the slot changes hands: user space reads the slots, then drop_counts, then
 * the slots again, and adds a slot's pending only where its seq is even and
 * unchanged (then drop_counts held none of its moves in between). `listed`
 * caches whether key.netns is in filter_netns, for the filter of generation
 * `filter_gen`.
 */
struct dt_count_slot {
	struct dt_count_key key;
	__u64 pending;
	__u32 filter_gen;
	__u8 listed;
	__u8 _pad[3];
	__u64 seq; /* 0: never taken */
};

DT_STATIC_ASSERT(sizeof(struct dt_count_slot) == 48, "dt_count_slot layout changed");

/* A CPU's slots: one per-CPU array element, so that user space reads all of them in one call. */
struct dt_count_slots {
	struct dt_count_slot slot[DT_COUNT_SLOTS];
};

/* Address filter key: family plus address, so v4 and v6 never collide. */
struct dt_addr_key {
	__u32 family;
	__u8 addr[DT_ADDR_LEN];
};

DT_STATIC_ASSERT(sizeof(struct dt_addr_key) == 20, "dt_addr_key layout changed");

/*
 * Filter settings, one element of an array map written by user space at any
 * time (--container follows restarts without reloading the programs).
 */
struct dt_filter {
	__u64 reasons[DT_REASON_WORDS];
	__u32 flags;	  /* enum dt_filter_flag */
	__u32 emit;	  /* 0: count only (summary mode), 1: stream events */
	__u32 rate_limit; /* events per second per key and CPU; 0: no limit */
	__u16 port;	  /* either end, host order */
	__u8 l4proto;
	__u8 _pad[1];
	__u32 gen; /* changes with every write: a verdict cached for an older filter is not used */
	__u32 _pad2;
};

DT_STATIC_ASSERT(sizeof(struct dt_filter) == 88, "dt_filter layout changed");

#endif /* DROPTRACE_H */
