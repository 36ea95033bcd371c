/**
 * Table-driven classification tests state a drop as flat facts; these build the record and the
 * context that classify() takes from them, the way the decoder and the enricher would.
 */
import { type Classification, type ClassifyContext, classify } from '../../src/classify/classify.js';
import type { DropRecord, Evidence } from '../../src/events.js';

type KernelEvidence = Pick<
  Evidence,
  'queue_len' | 'queue_limit' | 'rcvbuf_used' | 'rcvbuf_size' | 'qdisc' | 'qdisc_qlen' | 'qdisc_backlog' | 'neigh_entries' | 'gc_thresh3'
>;

export interface DropFacts
  extends Partial<Omit<DropRecord, 'peer' | 'container' | 'evidence'>>,
    KernelEvidence,
    Partial<Omit<ClassifyContext, 'container'>> {
  peer?: { ifname: string; mtu: number } | null;
  /** The context's container name. */
  container?: string | null;
}

const EVIDENCE_KEYS = [
  'queue_len',
  'queue_limit',
  'rcvbuf_used',
  'rcvbuf_size',
  'qdisc',
  'qdisc_qlen',
  'qdisc_backlog',
  'neigh_entries',
  'gc_thresh3',
] as const;

/** A drop record with no facts but the reason. */
export function noFacts(reason = ''): DropFacts {
  return { reason, location: '', len: 0, direction: 'unknown' };
}

export function dropOf(f: DropFacts): DropRecord {
  const evidence: Evidence = {};
  for (const k of EVIDENCE_KEYS) if (f[k] !== undefined && f[k] !== null) (evidence as Record<string, unknown>)[k] = f[k];
  return {
    type: 'drop',
    time: '2026-01-01T00:00:00.000000000Z',
    host: 'node-1',
    reason: f.reason ?? '',
    reason_code: f.reason_code ?? 0,
    reason_source: 'kernel',
    location: f.location ?? '',
    direction: f.direction ?? 'unknown',
    proto: f.proto ?? null,
    family: f.family ?? null,
    saddr: f.saddr ?? null,
    sport: f.sport ?? null,
    daddr: f.daddr ?? null,
    dport: f.dport ?? null,
    tcp_flags: f.tcp_flags ?? null,
    len: f.len ?? 0,
    ifindex: f.ifindex ?? (f.ifname ? 2 : 0),
    ifname: f.ifname ?? null,
    mtu: f.mtu ?? null,
    netns: f.netns ?? 4026531840,
    cgroup_id: f.cgroup_id ?? null,
    peer: f.peer ? { ifindex: 3, ifname: f.peer.ifname, mtu: f.peer.mtu, netns: 4026531841 } : null,
    sk_state: f.sk_state ?? null,
    container: null,
    container_via: null,
    layer: null,
    component: null,
    hint: null,
    benign: false,
    evidence,
    detected_by: f.detected_by ?? 'kfree_skb',
  };
}

export function contextOf(f: DropFacts): ClassifyContext {
  // facts that do not say: the ruleset was not read yet (as for a namespace's first drops)
  return { container: f.container ?? null, netfilter: 'netfilter' in f ? f.netfilter : undefined, conntrack: f.conntrack ?? null };
}

export function classifyFacts(f: DropFacts): Classification {
  return classify(dropOf(f), contextOf(f));
}
