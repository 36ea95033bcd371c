/**
 * Kernels before 5.17 free a dropped skb with plain kfree_skb(): the tracepoint says where, not why.
 * The reason is then derived from the function that freed it, where that function drops for one
 * main cause (the record's reason_source is "location" on such kernels); every other place is
 * NOT_SPECIFIED, classified by its location like NOT_SPECIFIED drops on newer kernels.
 *
 * The names are those of later kernels' enum skb_drop_reason, so that classification, `--allow`
 * and summaries read the same on every kernel. Sources: the kfree_skb() calls of Linux 5.10
 * (net/netfilter/core.c, net/ipv4/tcp_ipv4.c, net/ipv4/udp.c, net/core/dev.c, net/core/skbuff.c)
 * and what 5.17 later named them.
 */

/** function → the reason that function's kfree_skb() calls mostly stand for. */
export const LOCATION_REASONS: Readonly<Record<string, string>> = {
  // NF_DROP verdicts are freed by the hook loop itself
  nf_hook_slow: 'NETFILTER_DROP',
  // no socket (then a RST), but also bad checksums and short headers: one shared exit
  tcp_v4_rcv: 'NO_SOCKET',
  tcp_v6_rcv: 'NO_SOCKET',
  // no socket (then ICMP port unreachable); short packets and checksums have their own exit
  __udp4_lib_rcv: 'NO_SOCKET',
  __udp6_lib_rcv: 'NO_SOCKET',
  // __udp_queue_rcv_skb(): the receive buffer is full (ENOMEM) or the socket filter said no
  __udp_queue_rcv_skb: 'SOCKET_RCVBUFF',
  udp_queue_rcv_one_skb: 'SOCKET_RCVBUFF',
  __udpv6_queue_rcv_skb: 'SOCKET_RCVBUFF',
  udpv6_queue_rcv_one_skb: 'SOCKET_RCVBUFF',
  // a qdisc's enqueue refused the packet; __dev_xmit_skb frees its to_free list
  __dev_queue_xmit: 'QDISC_DROP',
  __dev_xmit_skb: 'QDISC_DROP',
  // a socket's queues emptied on close
  skb_queue_purge: 'QUEUE_PURGE',
  enqueue_to_backlog: 'CPU_BACKLOG',
  ip_error: 'IP_INNOROUTES',
};

/**
 * The derived reason for a symbolised location (`function+0xoff`). `qdisc` is the root qdisc of
 * the drop's device, when it has one: kfree_skb_list() frees both a qdisc's refused packets
 * (__dev_xmit_skb's to_free list) and the fragments of any freed skb, so it counts as a qdisc drop
 * only on a device whose qdisc can drop (noqueue never queues).
 */
export function derivedReason(location: string, qdisc?: string): string {
  const func = location.split('+', 1)[0];
  if (func === 'kfree_skb_list') return qdisc && qdisc !== 'noqueue' ? 'QDISC_DROP' : 'NOT_SPECIFIED';
  return LOCATION_REASONS[func] ?? 'NOT_SPECIFIED';
}
