/**
 * Prometheus metrics from the in-kernel counters: drops by (namespace, pod, container, layer,
 * component, reason), exact under storms because the kernel counts every drop by (netns, reason,
 * location) whatever the event stream delivers. Each refresh adds what every kernel key gained
 * since the last one to the series of whoever owns that netns now, so a pod re-created under the
 * same name continues its series, and a reused netns inode does not carry a dead pod's counts.
 *
 * Cardinality is bounded by design: no addresses, ports or locations as labels; the series of a
 * pod that is gone are removed after a grace period.
 */
import { release } from 'node:os';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { classify, locationFunction } from '../classify/index.js';
import type { ContainerInfo } from '../containers/types.js';
import type { DropRecord } from '../events.js';
import type { DropCount } from '../session.js';

/** The session's drop counters, by kernel key (netns, reason, location, detected_by). */
export type KernelCount = Pick<DropCount, 'netns' | 'reason' | 'location' | 'detected_by' | 'count'>;

export interface KernelRetransmitCount {
  netns: number;
  kind: string;
  count: number;
}

/** What the metrics read: the session's counters and the container index's view. */
export interface MetricsInputs {
  counts(): KernelCount[];
  retransmitCounts(): KernelRetransmitCount[];
  stats(): { lost: number; counterFull: number };
  /** The container or pod that owns a netns now, or null (the host, or nothing known). */
  ownerOf(netns: number): ContainerInfo | null;
  /** Is the pod (namespace and pod set) or, outside pods, the container of this name running now? */
  running(owner: Owner): boolean;
}

export interface DropMetricsOptions {
  version: string;
  program: string;
  /** How long the series of a pod (or container) that is gone stay (default 300 s). */
  graceMs?: number;
  now?: () => number;
}

export interface Owner {
  namespace: string;
  pod: string;
  container: string;
}

const HOST: Owner = { namespace: '', pod: '', container: '' };

/**
 * The transport protocol a dropping function is for (__udp4_lib_rcv, tcp_v6_rcv, icmpv6_rcv…):
 * the counter key has no protocol, and components such as NO_SOCKET's are named by it, so that
 * the metric's component is the one the same drop's record has.
 */
export function protoOfLocation(location: string): string | null {
  const f = locationFunction(location);
  if (f.includes('udp')) return 'udp';
  if (f.includes('tcp')) return 'tcp';
  if (f.includes('icmpv6') || f.includes('icmp6')) return 'icmpv6';
  if (f.includes('icmp')) return 'icmp';
  if (f.includes('sctp')) return 'sctp';
  return null;
}

/** A counter key as a record with nothing but its reason and location: what layer and component follow from. */
function countRecord(reason: string, location: string): DropRecord {
  return {
    type: 'drop',
    time: '',
    host: '',
    reason,
    reason_code: 0,
    // the counters' reason is the kernel's, or derived from the location on kernels without reasons
    reason_source: 'kernel',
    location,
    direction: 'unknown',
    tcp_flags: null,
    len: 0,
    ifindex: 0,
    ifname: null,
    mtu: null,
    netns: 0,
    cgroup_id: null,
    peer: null,
    sk_state: null,
    proto: protoOfLocation(location),
    family: null,
    saddr: null,
    sport: null,
    daddr: null,
    dport: null,
    container: null,
    container_via: null,
    layer: null,
    component: null,
    hint: null,
    benign: false,
    evidence: {},
    detected_by: 'kfree_skb',
  };
}

/** The owner labels of a container or pod: a pod-level owner (its sandbox) has no container name. */
export function ownerLabels(c: { name: string; pod?: string; namespace?: string; sandbox?: boolean } | null): Owner {
  if (!c) return HOST;
  return { namespace: c.namespace ?? '', pod: c.pod ?? '', container: c.sandbox ? '' : c.name };
}

interface Series {
  labels: Record<string, string>;
  /** When its pod was first seen gone; null while it runs (or for series without a pod). */
  goneSince: number | null;
}

export class DropMetrics {
  readonly registry = new Registry();
  private readonly drops: Counter<string>;
  private readonly retransmits: Counter<string>;
  private readonly lost: Counter<string>;
  private readonly uncounted: Counter<string>;
  private readonly last = new Map<string, number>();
  /** The last owner seen per netns: a pod's final drops, counted just after it went, stay its own. */
  private readonly lastOwner = new Map<number, Owner>();
  private readonly series = new Map<string, Series>();
  private lostSeen = 0;
  private uncountedSeen = 0;
  private readonly graceMs: number;
  private readonly now: () => number;

  constructor(
    private readonly inputs: MetricsInputs,
    opts: DropMetricsOptions,
  ) {
    this.graceMs = opts.graceMs ?? 300_000;
    this.now = opts.now ?? (() => Date.now());
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'droptrace_build_info',
      help: 'droptrace version, the program kind attached and the kernel; always 1',
      labelNames: ['version', 'program', 'kernel', 'node_version'],
      registers,
    }).set({ version: opts.version, program: opts.program, kernel: release(), node_version: process.versions.node }, 1);
    this.drops = new Counter({
      name: 'droptrace_drops_total',
      help: 'Packets the kernel dropped, counted in the kernel (exact), by the pod or container whose network namespace it was in',
      labelNames: ['namespace', 'pod', 'container', 'layer', 'component', 'reason'],
      registers,
    });
    this.retransmits = new Counter({
      name: 'droptrace_retransmits_total',
      help: 'TCP retransmits, counted in the kernel (exact), by the pod or container whose network namespace the socket is in, and kind (rto, fast, tlp, syn, synack)',
      labelNames: ['namespace', 'pod', 'container', 'kind'],
      registers,
    });
    this.lost = new Counter({
      name: 'droptrace_events_lost_total',
      help: 'Events the ring buffer had no room for (the drop counters still count them)',
      registers,
    });
    this.uncounted = new Counter({
      name: 'droptrace_uncounted_total',
      help: 'Drops and retransmits the in-kernel counter maps had no room for: missing from the counters by key',
      registers,
    });
  }

  /** Adds what the kernel counted since the last refresh; removes series of pods gone for the grace period. */
  refresh(): void {
    for (const row of this.inputs.counts()) {
      // one counter per kernel key: SYNs refused at either queue share reason and location
      const delta = this.delta(`d${row.netns}|${row.reason}|${row.location}|${row.detected_by}`, row.count);
      if (delta <= 0) continue;
      const c = classify(countRecord(row.reason, row.location));
      const labels = { ...this.owner(row.netns), layer: c.layer, component: c.component, reason: row.reason };
      this.drops.inc(labels, delta);
      this.track('d', labels);
    }
    for (const row of this.inputs.retransmitCounts()) {
      const delta = this.delta(`r${row.netns}|${row.kind}`, row.count);
      if (delta <= 0) continue;
      const labels = { ...this.owner(row.netns), kind: row.kind };
      this.retransmits.inc(labels, delta);
      this.track('r', labels);
    }
    const s = this.inputs.stats();
    if (s.lost > this.lostSeen) this.lost.inc(s.lost - this.lostSeen);
    this.lostSeen = Math.max(this.lostSeen, s.lost);
    if (s.counterFull > this.uncountedSeen) this.uncounted.inc(s.counterFull - this.uncountedSeen);
    this.uncountedSeen = Math.max(this.uncountedSeen, s.counterFull);
    this.expire();
  }

  /** What a kernel counter gained since the last refresh. */
  private delta(key: string, count: number): number {
    const before = this.last.get(key) ?? 0;
    if (count === before) return 0;
    this.last.set(key, count);
    return count - before;
  }

  /** Whoever owns the netns now; a pod's final counts, read just after it went, stay its own. */
  private owner(netns: number): Owner {
    const current = this.inputs.ownerOf(netns);
    if (!current) return this.lastOwner.get(netns) ?? HOST;
    const owner = ownerLabels(current);
    this.lastOwner.set(netns, owner);
    return owner;
  }

  /** The text Prometheus scrapes, counters brought up to date first. */
  async scrape(): Promise<string> {
    this.refresh();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private track(kind: 'd' | 'r', labels: Record<string, string>): void {
    const key = `${kind}${JSON.stringify(labels)}`;
    const s = this.series.get(key);
    if (s) s.goneSince = null;
    else this.series.set(key, { labels, goneSince: null });
  }

  private expire(): void {
    const now = this.now();
    const running = new Map<string, boolean>();
    const up = (o: Owner) => {
      const key = ownerKey(o);
      let r = running.get(key);
      if (r === undefined) {
        r = this.inputs.running(o);
        running.set(key, r);
      }
      return r;
    };
    const expired = new Set<string>();
    for (const [key, s] of this.series) {
      const owner: Owner = { namespace: s.labels.namespace, pod: s.labels.pod, container: s.labels.container };
      // the host's series (no pod, no container) stay for good
      if (!owner.pod && !owner.container) continue;
      if (up(owner)) {
        s.goneSince = null;
        continue;
      }
      s.goneSince ??= now;
      if (now - s.goneSince < this.graceMs) continue;
      if (key.startsWith('d')) this.drops.remove(s.labels);
      else this.retransmits.remove(s.labels);
      this.series.delete(key);
      expired.add(ownerKey(owner));
    }
    // an owner gone for good no longer claims its netns inode: the kernel hands it to the next namespace
    for (const [netns, o] of this.lastOwner) if (expired.has(ownerKey(o))) this.lastOwner.delete(netns);
  }
}

/** A pod is one owner whatever container of it a series names; a container outside pods is its own. */
function ownerKey(o: Owner): string {
  return o.pod ? `pod:${o.namespace}/${o.pod}` : `container:${o.container}`;
}
