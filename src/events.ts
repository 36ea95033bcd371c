/**
 * The records droptrace produces. They are the NDJSON schema v1 (schema/droptrace-event.schema.json)
 * and what the library API yields: one shape, snake_case keys, built in a fixed key order.
 * Extend freely; never rename.
 */

export const SCHEMA_VERSION = 1;

export type Layer = 'link' | 'qdisc' | 'netfilter' | 'ip' | 'transport' | 'socket' | 'tunnel' | 'bpf' | 'xfrm' | 'unknown';
export type Direction = 'rx' | 'tx' | 'unknown';
export type Family = 'ipv4' | 'ipv6' | null;
export type RetransmitKind = 'rto' | 'fast' | 'tlp' | 'syn' | 'synack' | 'unknown';
export type ContainerVia = 'netns' | 'cgroup' | 'veth-peer' | 'address';

export interface Peer {
  ifindex: number;
  ifname: string;
  mtu: number;
  netns: number;
}

export interface Container {
  id: string;
  name: string;
  runtime: string; // docker, podman, containerd, cri-o, netns (a plain `ip netns` namespace)
  image: string | null;
  pid: number | null;
  /** Kubernetes pod name and namespace. */
  pod?: string;
  namespace?: string;
  /** Kubernetes pod UID: from the CRI runtime, or from a kubepods cgroup path when nothing else names the pod. */
  pod_uid?: string;
  /** true: the record names the pod (its sandbox, which owns the pod's netns), not one container in it. */
  sandbox?: boolean;
}

/** Facts captured at drop time that explain it; fields absent where they do not apply. */
export interface Evidence {
  len?: number;
  mtu?: number;
  peer_mtu?: number;
  queue_len?: number;
  queue_limit?: number;
  rcvbuf_used?: number;
  rcvbuf_size?: number;
  qdisc?: string;
  qdisc_qlen?: number;
  qdisc_backlog?: number;
  rule?: string;
  rule_packets?: number;
  /** Several drop rules counted around the drop: it was one of these. */
  rule_candidates?: string[];
  table?: string;
  conntrack_count?: number;
  conntrack_max?: number;
  neigh_entries?: number;
  gc_thresh3?: number;
}

interface TupleFields {
  proto: string | null; // tcp, udp, icmp, icmpv6, or the IP protocol number as a string
  family: Family;
  saddr: string | null;
  sport: number | null;
  daddr: string | null;
  dport: number | null;
}

export interface DropRecord extends TupleFields {
  type: 'drop';
  time: string; // RFC 3339, nanoseconds, UTC
  /** The host that traced it (its hostname, or DROPTRACE_HOST). */
  host: string;
  reason: string; // kernel name without SKB_DROP_REASON_
  reason_code: number | null; // null when the kernel passes no reason (before 5.17)
  reason_source: 'kernel' | 'location'; // location: derived from where the packet was freed
  location: string; // function+0xoff, or the hex address when not symbolised
  direction: Direction;
  tcp_flags: string | null; // e.g. "SYN|ACK"
  len: number;
  ifindex: number;
  ifname: string | null;
  mtu: number | null;
  netns: number;
  cgroup_id: string | null; // decimal: cgroup ids are 64-bit
  peer: Peer | null;
  sk_state: string | null;
  container: Container | null;
  container_via: ContainerVia | null;
  layer: Layer | null;
  component: string | null;
  hint: string | null;
  benign: boolean;
  evidence: Evidence;
  /**
   * How the drop was seen: `kfree_skb` (the kernel's drop tracepoint, with its reason), or a
   * listener's SYN freed as consumed while the namespace's counter rose on that CPU in the same call:
   * `syn_accept_queue_full` (ListenOverflows), `syn_queue_full` (TCPReqQFullDrop, SYN cookies off),
   * `syn_listen_drop` (ListenDrops alone).
   */
  detected_by: 'kfree_skb' | 'syn_accept_queue_full' | 'syn_queue_full' | 'syn_listen_drop';
}

export interface RetransmitRecord extends TupleFields {
  type: 'retransmit';
  time: string;
  /** The host that traced it (its hostname, or DROPTRACE_HOST). */
  host: string;
  kind: RetransmitKind;
  state: string;
  netns: number;
  cgroup_id: string | null;
  err: number;
  /** Segments this retransmit carried (one skb can hold many: TcpRetransSegs counts these). */
  segments: number;
  ca_state: string; // congestion state at the retransmit: Open, Disorder, CWR, Recovery, Loss
  container: Container | null;
  container_via: ContainerVia | null;
}

/**
 * connect() failed with EADDRNOTAVAIL: no free local port toward that destination. Not a drop: no
 * packet exists and no counter moves. The process is the caller (the syscall runs in its context).
 */
export interface ConnectErrorRecord {
  type: 'connect_error';
  time: string;
  /** The host that traced it (its hostname, or DROPTRACE_HOST). */
  host: string;
  errno: 'EADDRNOTAVAIL';
  pid: number;
  comm: string;
  netns: number;
  cgroup_id: string | null;
  family: Family;
  daddr: string | null;
  dport: number | null;
  /** net.ipv4.ip_local_port_range of the namespace, when it could be read. */
  port_range: [number, number] | null;
  hint: string;
  container: Container | null;
  container_via: ContainerVia | null;
}

export interface StartRecord {
  type: 'start';
  time: string;
  /** The host that traced it (its hostname, or DROPTRACE_HOST). */
  host: string;
  droptrace_version: string;
  schema_version: number;
  kernel: string;
  program: 'tp_btf' | 'tracepoint';
  /** --rate-limit in force: events per second per key and CPU (0: none). */
  rate_limit: number;
  /** What this kernel lets droptrace see (src/kernel/features.ts); false: that part is missing. */
  features: Record<string, boolean>;
  filter: Record<string, unknown>;
}

export interface LostRecord {
  type: 'lost';
  time: string;
  /** The host that traced it (its hostname, or DROPTRACE_HOST). */
  host: string;
  where: 'kernel' | 'user' | 'output'; // kernel: ring buffer full; user: the consumer's callback threw; output: stdout's reader too slow
  count: number; // events lost since the previous lost record
  total: number;
}

/**
 * A namespace the user named went away (no name, no process left in it): it is no longer traced,
 * and a namespace that later gets the same inode is not traced as if it were this one.
 */
export interface NetnsGoneRecord {
  type: 'netns_gone';
  time: string;
  host: string;
  netns: number;
  name: string | null;
}

/**
 * A container followed with `--container` stopped (nothing of it is traced until it is back), is
 * running again, or restarted as a new incarnation (new netns, pid or addresses: the filter follows).
 */
export interface ContainerStateRecord {
  type: 'container_state';
  time: string;
  host: string;
  /** As given to --container. */
  spec: string;
  state: 'stopped' | 'running' | 'restarted';
  container: Container;
  /** Its network namespace now; null once stopped. */
  netns: number | null;
}

/** Something droptrace could not do as asked, said in the stream where it happened. */
export interface WarningRecord {
  type: 'warning';
  time: string;
  host: string;
  code: string; // ERR_DROPTRACE_*
  message: string;
}

/**
 * What the in-kernel rate limit held back for one key (a drop's netns, reason and location; a
 * retransmit's netns), once per interval while it holds events back. The key's first events of each
 * second were delivered; these were counted, not streamed.
 */
export interface SuppressedRecord {
  type: 'suppressed';
  time: string;
  host: string;
  event: 'drop' | 'retransmit';
  netns: number;
  reason: string | null; // drops; null for retransmits
  location: string | null; // drops; null for retransmits
  /** SYNs refused at a full queue (the drop record's detected_by): counted apart by queue; absent otherwise. */
  detected_by?: Exclude<DropRecord['detected_by'], 'kfree_skb'>;
  count: number; // held back since the previous suppressed record of this key
  total: number; // held back for this key since the start
  rate_limit: number; // events per second per key (and CPU) that were let through
}

/** The rate limit's and the counters' key of a drop, as a string: the same for its events and its suppressed records. */
export function countKey(netns: number, reason: string | null, location: string | null): string {
  return `${netns}\t${reason}\t${location}`;
}

export interface StopRecord {
  type: 'stop';
  time: string;
  /** The host that traced it (its hostname, or DROPTRACE_HOST). */
  host: string;
  /** Events delivered: events + suppressed + lost is every drop, retransmit and failed connect matched. */
  events: number;
  drops: number;
  retransmits: number;
  /** connect() calls that failed for want of a free local port (connect_error records; never rate-limited). */
  connects: number;
  lost: number;
  /** Held back by the rate limit (reported in suppressed records). */
  suppressed: number;
  /** droptrace's own drops (its unix and netlink sockets), kept out of the stream. */
  own_drops: number;
  by_reason: Record<string, number>;
  /** Events shown, by container name (`host` for none): the stream's own count, not the kernel's. */
  by_container?: Record<string, number>;
}

/** `droptrace top --json`: the in-kernel counters, exact, once per interval. */
export interface CountsRecord {
  type: 'counts';
  time: string;
  /** The host that traced it (its hostname, or DROPTRACE_HOST). */
  host: string;
  /** Totals since the start, as the stop record counts them. */
  drops: number;
  retransmits: number;
  lost: number;
  /** Drops by (netns, reason, location), named as the stream names them. */
  rows: {
    netns: number;
    /** The container's name, an `ip netns` name, `host`, or netns:<inode>. */
    where: string;
    reason: string;
    location: string;
    layer: Layer;
    component: string;
    benign: boolean;
    /** SYNs refused at a full queue (the drop record's detected_by), counted apart by queue; absent for kfree_skb drops. */
    detected_by?: Exclude<DropRecord['detected_by'], 'kfree_skb'>;
    count: number;
  }[];
  /** Retransmits by (netns, kind). */
  retransmit_rows: { netns: number; where: string; kind: RetransmitKind; count: number }[];
}

/**
 * A traced namespace's own counter (as `nstat` names it) held against what droptrace traced there,
 * from the start of tracing to its end (`top`: to each interval's reading): `untraced` is loss the
 * kernel counted and droptrace did not see.
 */
export interface AuditRecord {
  type: 'audit';
  time: string;
  /** The host that traced it (its hostname, or DROPTRACE_HOST). */
  host: string;
  netns: number;
  container: Container | null;
  counter: string;
  /** How much the counter moved while tracing. */
  delta: number;
  /** What droptrace traced that the counter counts (exact in-kernel drop counts; retransmit segments). */
  traced: number;
  /** delta − traced when positive. */
  untraced: number;
  /** Which drops or events droptrace holds against the counter. */
  traced_as: string;
}

/** `droptrace explain --json`: drops folded by (where, layer, component, reason), ranked by count. */
export interface Finding {
  type: 'finding';
  host: string;
  rank: number;
  /** The container's name, an `ip netns` name, or netns:<inode>. */
  where: string;
  container: Container | null;
  netns: number;
  layer: Layer | null;
  component: string | null;
  reason: string;
  count: number;
  benign: boolean;
  /** Why this is a consequence of another loss rather than a cause (null: it may be a cause). */
  follow_on: string | null;
  /** Rank of the cause a follow-on finding follows (same place, same port), when there is one. */
  follows: number | null;
  /** The most informative hint seen (one naming a rule beats one that could not). */
  hint: string | null;
  evidence: Evidence;
  locations: string[];
  /** One packet of the finding, as an example. */
  example: { proto: string | null; saddr: string | null; sport: number | null; daddr: string | null; dport: number | null };
  first_seen: string;
  last_seen: string;
}

/** `droptrace check --json`: the verdict on a command run under the tracer. */
export interface CheckRecord {
  type: 'check';
  time: string;
  /** The host that traced it (its hostname, or DROPTRACE_HOST). */
  host: string;
  command: string[];
  status: number;
  verdict: 'ok' | 'unexpected drops' | 'command failed';
  unexpected: number;
  allowed_max: number;
  lost: number;
  findings: Finding[];
}

export type DroptraceRecord =
  | StartRecord
  | DropRecord
  | RetransmitRecord
  | LostRecord
  | WarningRecord
  | NetnsGoneRecord
  | ContainerStateRecord
  | SuppressedRecord
  | StopRecord
  | CountsRecord
  | Finding
  | CheckRecord
  | AuditRecord
  | ConnectErrorRecord;
export type TraceEvent = DropRecord | RetransmitRecord | ConnectErrorRecord;
