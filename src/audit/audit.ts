/**
 * The audit: each traced namespace's own counters (what `nstat` shows) read when tracing starts and
 * when it stops, held against what droptrace traced in that namespace. A counter that moved more
 * than its matching events is loss droptrace did not see (a filter that excludes the reason, lost
 * events, or a path the programs do not cover), said in the stream itself.
 */

import { locationFunction } from '../classify/classify.js';
import type { AuditRecord, Container, TraceEvent } from '../events.js';
import { hostName } from '../host.js';
import type { DropCount, RetransmitCount } from '../session.js';
import type { NetCounters } from './net-counters.js';

interface Audited {
  counter: string;
  /** What droptrace reports for it, in words (the audit record carries it). */
  traced_as: string;
  /** Drops (from the kernel-side exact counts, by how they were seen) that the counter also counts. */
  drop?: (reason: string, func: string, detectedBy: DropCount['detected_by']) => boolean;
  /** The counter counts retransmitted segments (the kernel-side retransmit counters carry them). */
  segments?: boolean;
  /** Held against the events noted (note()): the kernel-side counts do not name the device. */
  fromEvents?: boolean;
}

const COOKIE_CHECK = /^cookie_v[46]_check$/;

/**
 * Counters and the drops that move them, one each, from the kernel paths that do both:
 * tcp_v4_syn_recv_sock/tcp_conn_request (ListenOverflows; the cookie path frees the ACK as NO_SOCKET
 * in cookie_v4_check/cookie_v6_check), tcp_validate_incoming (PAWSEstab), __udp4_lib_rcv and
 * __udp6_lib_rcv (NoPorts), __udp_queue_rcv_skb (RcvbufErrors), __tcp_retransmit_skb and
 * tcp_rtx_synack (RetransSegs: segments, not calls), ip_error (InAddrErrors, InNoRoutes),
 * ip_route_output/__ip_queue_xmit (OutNoRoutes).
 */
export const AUDITED: readonly Audited[] = [
  {
    counter: 'TcpExtListenOverflows',
    traced_as: 'TCP_LISTEN_OVERFLOW drops (SYNs detected by syn_accept_queue_full) and NO_SOCKET at cookie_v4_check/cookie_v6_check',
    drop: (r, f, d) =>
      d === 'syn_accept_queue_full' || (d === 'kfree_skb' && (r === 'TCP_LISTEN_OVERFLOW' || (r === 'NO_SOCKET' && COOKIE_CHECK.test(f)))),
  },
  {
    counter: 'TcpExtTCPReqQFullDrop',
    traced_as: 'TCP_LISTEN_OVERFLOW drops of SYNs detected by syn_queue_full',
    drop: (_r, _f, d) => d === 'syn_queue_full',
  },
  { counter: 'TcpExtPAWSEstab', traced_as: 'TCP_RFC7323_PAWS drops', drop: (r) => r === 'TCP_RFC7323_PAWS' },
  { counter: 'UdpNoPorts', traced_as: 'NO_SOCKET drops at __udp4_lib_rcv', drop: (r, f) => r === 'NO_SOCKET' && f === '__udp4_lib_rcv' },
  { counter: 'Udp6NoPorts', traced_as: 'NO_SOCKET drops at __udp6_lib_rcv', drop: (r, f) => r === 'NO_SOCKET' && f === '__udp6_lib_rcv' },
  {
    counter: 'UdpRcvbufErrors',
    traced_as: 'SOCKET_RCVBUFF drops at udp_queue_rcv_one_skb',
    drop: (r, f) => r === 'SOCKET_RCVBUFF' && f === 'udp_queue_rcv_one_skb',
  },
  {
    counter: 'Udp6RcvbufErrors',
    traced_as: 'SOCKET_RCVBUFF drops at udpv6_queue_rcv_one_skb',
    drop: (r, f) => r === 'SOCKET_RCVBUFF' && f === 'udpv6_queue_rcv_one_skb',
  },
  { counter: 'IpInAddrErrors', traced_as: 'IP_INADDRERRORS drops', drop: (r) => r === 'IP_INADDRERRORS' },
  { counter: 'IpExtInNoRoutes', traced_as: 'IP_INNOROUTES drops', drop: (r) => r === 'IP_INNOROUTES' },
  { counter: 'TcpRetransSegs', traced_as: 'segments of retransmit records', segments: true },
];

/**
 * A veth counts in its own tx_dropped what it could not hand to its peer (veth_xmit: peer down,
 * too big for the peer's MTU, peer's queue full): the drops at these functions on that device.
 */
const VETH_TX = new Set(['veth_xmit', '__dev_forward_skb', '__dev_forward_skb2', 'veth_forward_skb']);
const devCounter = (e: TraceEvent): string | null =>
  e.type === 'drop' && e.ifname && VETH_TX.has(locationFunction(e.location)) ? `dev:${e.ifname}:tx_dropped` : null;
const devRow = (counter: string): Audited => ({
  counter,
  traced_as: 'drops on that device at veth_xmit/__dev_forward_skb',
  fromEvents: true,
});

export class Audit {
  private readonly before = new Map<number, NetCounters>();
  private readonly after = new Map<number, NetCounters>();
  private endTime = '';
  /** Event-based sums, by netns and counter. */
  private readonly fromEvents = new Map<number, Map<string, number>>();

  constructor(
    private readonly read: (netns: number) => Promise<NetCounters | undefined>,
    private readonly now: () => string,
  ) {}

  /** The namespaces being audited (those whose counters could be read at start). */
  get namespaces(): number[] {
    return [...this.before.keys()];
  }

  /** Reads the counters of each namespace; one that cannot be read is left out (and said so by the caller). */
  async begin(netns: readonly number[]): Promise<number[]> {
    const missing: number[] = [];
    await Promise.all(
      [...new Set(netns)].map(async (n) => {
        const c = await this.read(n).catch(() => undefined);
        if (c) this.before.set(n, c);
        else missing.push(n);
      }),
    );
    return missing;
  }

  /** Every event of the stream, visible or not (the device counters are held against events). */
  note(e: TraceEvent): void {
    if (!this.before.has(e.netns)) return;
    const dev = devCounter(e);
    if (dev) this.add(e.netns, dev, 1);
  }

  private add(netns: number, counter: string, n: number): void {
    let m = this.fromEvents.get(netns);
    if (!m) {
      m = new Map();
      this.fromEvents.set(netns, m);
    }
    m.set(counter, (m.get(counter) ?? 0) + n);
  }

  /**
   * Reads the counters again; call while still attached, so that whatever the counters hold was
   * traceable (what happens between this and detaching can only make `traced` larger, never hide a
   * miss). `top` calls it every interval: each records() is then from the start to that reading.
   */
  async finish(): Promise<void> {
    this.endTime = this.now();
    await Promise.all(
      [...this.before.keys()].map(async (n) => {
        const c = await this.read(n).catch(() => undefined);
        if (c) this.after.set(n, c);
      }),
    );
  }

  /**
   * The comparison, after finish() (and detaching, at the end). `counts` and `retransmits` are the
   * kernel-side exact counts; `events` says whether the device rows apply (not in count-only
   * modes, where no events flow to name the device).
   */
  records(
    counts: readonly DropCount[],
    retransmits: readonly RetransmitCount[],
    containerOf: (netns: number) => Container | null,
    events = true,
  ): AuditRecord[] {
    const records: AuditRecord[] = [];
    const time = this.endTime;
    for (const [netns, before] of this.before) {
      const after = this.after.get(netns);
      if (!after) continue;
      // device counters: only veths' tx_dropped has drops to hold against it; others are listed when they moved
      const devRows = events ? Object.keys(after).filter((k) => k.startsWith('dev:') && k.endsWith(':tx_dropped')) : [];
      for (const a of [...AUDITED, ...devRows.map(devRow)]) {
        if (!(a.counter in after)) continue;
        const delta = after[a.counter] - (before[a.counter] ?? 0);
        let traced = a.fromEvents ? (this.fromEvents.get(netns)?.get(a.counter) ?? 0) : 0;
        const { drop } = a;
        if (drop) {
          for (const c of counts) if (c.netns === netns && drop(c.reason, locationFunction(c.location), c.detected_by)) traced += c.count;
        }
        if (a.segments) for (const r of retransmits) if (r.netns === netns) traced += r.segments;
        if (delta === 0 && traced === 0) continue;
        records.push({
          type: 'audit',
          time,
          host: hostName(),
          netns,
          container: containerOf(netns),
          counter: a.counter,
          delta,
          traced,
          untraced: Math.max(0, delta - traced),
          traced_as: a.traced_as,
        });
      }
    }
    return records;
  }
}

/** One line for humans: nothing missed, or what was. */
export function auditText(records: readonly AuditRecord[], nameOf: (r: AuditRecord) => string): string {
  const missed = records.filter((r) => r.untraced > 0);
  if (!records.length) return "audit: the traced namespaces' drop counters did not move\n";
  if (!missed.length)
    return `audit: nothing was missed: ${records.map((r) => `${r.counter} +${r.delta} = ${r.traced} traced`).join(', ')}\n`;
  return `audit: the kernel counted drops droptrace did not see: ${missed
    .map((r) => `${nameOf(r)} ${r.counter} +${r.delta}, ${r.traced} traced (${r.untraced} missed; droptrace sees these as ${r.traced_as})`)
    .join('; ')}\n`;
}
