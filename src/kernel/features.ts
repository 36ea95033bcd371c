/**
 * What the running kernel lets the programs read, from its BTF: the same facts the BPF object's
 * CO-RE guards test at load time (bpf/droptrace.bpf.c, bpf/core_fixes.bpf.h), named for the
 * `start` record and said once on stderr when one is missing.
 */
import { existsSync } from 'node:fs';
import type { Addon, NativeTracer } from '../native/addon.js';

export interface KernelFeatures {
  /** enum skb_drop_reason and a kfree_skb tracepoint that passes it (5.17+); else derived from the location. */
  drop_reasons: boolean;
  /** kfree_skb passes the receiving socket (6.10+): socket-level drops name their socket. */
  rx_sk: boolean;
  /** The socket's cgroup id (container attribution by cgroup). */
  socket_cgroup: boolean;
  /** A veth drop names the other end (its netns, device, MTU). */
  veth_peer: boolean;
  /** tcp_retransmit_skb passes its result (after 6.12; tp_btf only). */
  retransmit_err: boolean;
  /**
   * SYNs refused by a full accept or SYN queue are seen (tp_btf, and consume_skb with its location:
   * 6.3 and later); the program is attached only while a traced namespace's listeners refuse.
   */
  listen_syn: boolean;
}

export interface FeatureReport {
  features: KernelFeatures;
  /** One line per missing or degraded feature, for stderr. */
  notes: string[];
}

export function kernelFeatures(
  addon: Addon,
  tracer: Pick<NativeTracer, 'attachMode' | 'listenSynAvailable'>,
  btfDir = '/sys/kernel/btf',
): FeatureReport {
  const program = tracer.attachMode;
  const has = (struct: string, member?: string) => addon.btfHas({ struct, member });
  const reasonEnum = (addon.btfEnum({ name: 'skb_drop_reason' }) ?? []).length > 0;
  const features: KernelFeatures = {
    drop_reasons: reasonEnum && (program === 'tp_btf' || has('trace_event_raw_kfree_skb', 'reason')),
    rx_sk: program === 'tp_btf' ? addon.tracepointArgs('kfree_skb') >= 4 : has('trace_event_raw_kfree_skb', 'rx_sk'),
    socket_cgroup: has('sock_cgroup_data', 'cgroup') || has('sock_cgroup_data', 'val'),
    // read through veth_priv's BTF when veth is loaded, else at its first member (see veth_peer())
    veth_peer: true,
    retransmit_err: program === 'tp_btf' && addon.tracepointArgs('tcp_retransmit_skb') >= 3,
    listen_syn: tracer.listenSynAvailable,
  };
  const notes: string[] = [];
  if (!features.drop_reasons) {
    notes.push(
      'this kernel passes no drop reasons (added in 5.17): each reason is derived from the drop location (reason_source "location")',
    );
  }
  if (!features.listen_syn) {
    notes.push(
      'SYNs refused by a full accept or SYN queue are not seen here (they need tp_btf and consume_skb with its location, 6.3 and later): the audit counts them (TcpExtListenOverflows)',
    );
  }
  if (!features.socket_cgroup) notes.push('sockets carry no cgroup here: containers are named by network namespace only');
  if (!has('veth_priv') && !existsSync(`${btfDir}/veth`)) {
    notes.push(
      'the veth module is not loaded yet (no BTF for struct veth_priv): veth peers are read at its first member, as every kernel lays it out',
    );
  }
  return { features, notes };
}
