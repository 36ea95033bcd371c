/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * CO-RE shims: one place for the kernel-version differences droptrace reads
 * through. Each names the change it covers and dispatches on what the running
 * kernel's BTF has.
 */
#ifndef DROPTRACE_CORE_FIXES_H
#define DROPTRACE_CORE_FIXES_H

#include <bpf/bpf_core_read.h>

/* Set by the loader from the kernel's BTF: the tracepoints' argument counts. */
const volatile bool rtx_has_err = false;
const volatile bool kfree_skb_has_rx_sk = false;

/*
 * netdev_priv(): v6.12 ("net: add a priv field to struct net_device") made the
 * private area a flexible array member; before it, it followed the struct at
 * NETDEV_ALIGN (32).
 */
static __always_inline void *netdev_priv_addr(const struct net_device *dev)
{
	if (bpf_core_field_exists(dev->priv))
		return (void *)dev + bpf_core_field_offset(struct net_device, priv);
	return (void *)dev + ((bpf_core_type_size(struct net_device) + 31) & ~31);
}

/* sock_cgroup_data before v5.15: the cgroup pointer and the net_prio/classid data share `val` */
struct sock_cgroup_data___pre515 {
	__u64 val;
};

struct sock___pre515 {
	struct sock_cgroup_data___pre515 sk_cgrp_data;
};

/*
 * sock_cgroup_data holds a plain cgroup pointer since v5.15 (8520e224f547
 * "bpf, cgroups: Fix cgroup v2 fallback on v1/v2 mixed mode"). Before it,
 * `val` holds the pointer when its low two bits are clear, and net_prio or
 * classid data (the root cgroup, to sock_cgroup_ptr()) when they are not.
 */
static __always_inline __u64 sk_cgroup_kn_id(const struct sock *sk)
{
	const struct sock___pre515 *old = (const void *)sk;
	struct cgroup *cgrp;
	__u64 val;

	if (bpf_core_field_exists(sk->sk_cgrp_data.cgroup))
		return BPF_CORE_READ(sk, sk_cgrp_data.cgroup, kn, id);
	if (!bpf_core_field_exists(old->sk_cgrp_data.val))
		return 0;
	val = BPF_CORE_READ(old, sk_cgrp_data.val);
	if (!val || (val & 3))
		return 0;
	cgrp = (struct cgroup *)val;
	return BPF_CORE_READ(cgrp, kn, id);
}

/*
 * tcp_retransmit_skb gained a third argument, `int err`, after v6.12 (6.18
 * has it, 6.1 and 6.12 do not). The loader reads the tracepoint's prototype
 * from BTF; the verifier never visits the read when rtx_has_err is false.
 */
static __always_inline int tcp_rtx_err_arg(unsigned long long *ctx)
{
	if (rtx_has_err)
		return (int)ctx[2];
	return 0;
}

/*
 * kfree_skb gained a fourth argument, `struct sock *rx_sk`, in v6.10 (the
 * receiving socket of drops inside socket code). Read only where it exists,
 * so that one tp_btf program loads on both sides of that change.
 */
static __always_inline struct sock *kfree_skb_rx_sk_arg(unsigned long long *ctx)
{
	if (kfree_skb_has_rx_sk)
		return (struct sock *)ctx[3];
	return NULL;
}

#endif /* DROPTRACE_CORE_FIXES_H */
