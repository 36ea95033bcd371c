/**
 * `droptrace explain`: events folded into findings, one per (where, layer, reason, function that
 * dropped), ranked by count: the conclusion the layer-by-layer counter hunt would reach, with its
 * evidence. The component and hint are the richest seen: the first drops of a netfilter rule come
 * before its ruleset is read, the later ones name it, and they are one finding. Pure: the caller
 * feeds events and reads findings.
 */
import { locationFunction } from '../classify/classify.js';
import { countKey, type DropRecord, type Finding, type SuppressedRecord, type TraceEvent } from '../events.js';
import { hostName } from '../host.js';
import { escapeTerminal as esc } from '../output/escape.js';
import { followOnOf, localPort, orphanSegment } from './follow-on.js';

/** connect() calls that found no free local port, by place and process. */
export interface ConnectSummary {
  where: string;
  comm: string;
  count: number;
  /** Destinations, at most a few. */
  destinations: string[];
  hint: string;
}

export interface RetransmitSummary {
  where: string;
  kinds: Record<string, number>;
  count: number;
}

function richness(e: DropRecord): number {
  return (e.evidence.rule ? 4 : 0) + (e.evidence.conntrack_max ? 2 : 0) + (e.hint ? 1 : 0);
}

interface Entry extends Finding {
  richness: number;
  lport: number | null;
  orphan: boolean;
}

export class FindingsBuilder {
  private readonly findings = new Map<string, Entry>();
  private readonly retransmits = new Map<string, RetransmitSummary>();
  private readonly connects = new Map<string, ConnectSummary>();
  /** the finding each (netns, reason, location) went into, for what the rate limit held back of it */
  private readonly byCountKey = new Map<string, Entry>();
  private readonly unseen = new Map<string, SuppressedRecord & { where: string }>();
  private readonly whereOf = new Map<number, string>();

  constructor(private readonly nameOf: (netns: number) => string | undefined = () => undefined) {}

  where(e: TraceEvent): string {
    return e.container?.name ?? this.nameOf(e.netns) ?? `netns:${e.netns}`;
  }

  add(e: TraceEvent): void {
    const where = this.where(e);
    this.whereOf.set(e.netns, where);
    if (e.type === 'retransmit') {
      const r = this.retransmits.get(where) ?? { where, kinds: {}, count: 0 };
      r.kinds[e.kind] = (r.kinds[e.kind] ?? 0) + 1;
      r.count++;
      this.retransmits.set(where, r);
      return;
    }
    if (e.type === 'connect_error') {
      const key = `${where}\t${e.comm}`;
      const c = this.connects.get(key) ?? { where, comm: e.comm, count: 0, destinations: [], hint: e.hint };
      c.count++;
      const dst = e.family === 'ipv6' ? `[${e.daddr}]:${e.dport}` : `${e.daddr}:${e.dport}`;
      if (c.destinations.length < 4 && !c.destinations.includes(dst)) c.destinations.push(dst);
      this.connects.set(key, c);
      return;
    }
    const followOn = followOnOf(e);
    const orphan = !followOn && orphanSegment(e);
    const key = `${where}\t${e.layer}\t${e.reason}\t${locationFunction(e.location)}\t${followOn ? 'f' : orphan ? 'o' : ''}`;
    let f = this.findings.get(key);
    if (!f) {
      f = {
        type: 'finding',
        host: hostName(),
        rank: 0,
        where,
        container: e.container,
        netns: e.netns,
        layer: e.layer,
        component: e.component,
        reason: e.reason,
        count: 0,
        benign: e.benign,
        follow_on: followOn,
        follows: null,
        hint: e.hint,
        evidence: e.evidence,
        locations: [],
        example: { proto: e.proto, saddr: e.saddr, sport: e.sport, daddr: e.daddr, dport: e.dport },
        first_seen: e.time,
        last_seen: e.time,
        richness: -1,
        lport: localPort(e),
        orphan,
      };
      this.findings.set(key, f);
    }
    this.byCountKey.set(countKey(e.netns, e.reason, e.location), f);
    f.count++;
    f.last_seen = e.time;
    if (!f.locations.includes(e.location) && f.locations.length < 8) f.locations.push(e.location);
    const r = richness(e);
    if (r >= f.richness) {
      f.richness = r;
      f.component = e.component;
      f.hint = e.hint;
      f.evidence = e.evidence;
    }
  }

  /**
   * Folds in what the rate limit held back: into the finding of the same (netns, reason,
   * location), whose first events were delivered. Returns false when none of its events arrived.
   */
  addSuppressed(r: SuppressedRecord): boolean {
    const where = this.whereOf.get(r.netns) ?? this.nameOf(r.netns) ?? `netns:${r.netns}`;
    if (r.event === 'retransmit') {
      const s = this.retransmits.get(where) ?? { where, kinds: {}, count: 0 };
      s.kinds['rate-limited'] = (s.kinds['rate-limited'] ?? 0) + r.count;
      s.count += r.count;
      this.retransmits.set(where, s);
      return true;
    }
    const key = countKey(r.netns, r.reason, r.location);
    const f = this.byCountKey.get(key);
    if (f) {
      f.count += r.count;
      return true;
    }
    const u = this.unseen.get(key);
    if (u) u.count += r.count;
    else this.unseen.set(key, { ...r, where });
    return false;
  }

  /**
   * Causes by count, most first; then follow-on drops (each under the cause it follows where one is
   * found in the same place and port); benign ones last.
   */
  result(): { findings: Finding[]; retransmits: RetransmitSummary[]; connects: ConnectSummary[] } {
    for (const [key, u] of this.unseen) {
      // every event of the key was lost: a finding with what the counters know
      const f = this.byCountKey.get(key);
      if (f) f.count += u.count;
      else
        this.findings.set(`${key}\tunseen`, {
          type: 'finding',
          host: hostName(),
          rank: 0,
          where: u.where,
          container: null,
          netns: u.netns,
          layer: null,
          component: null,
          reason: u.reason ?? 'UNKNOWN',
          count: u.count,
          benign: false,
          follow_on: null,
          follows: null,
          hint: null,
          evidence: {},
          locations: u.location ? [u.location] : [],
          example: { proto: null, saddr: null, sport: null, daddr: null, dport: null },
          first_seen: u.time,
          last_seen: u.time,
          richness: -1,
          lport: null,
          orphan: false,
        });
    }
    this.unseen.clear();
    const all = [...this.findings.values()];
    const sameSpot = (c: Entry, f: Entry) => c.where === f.where && c.lport !== null && c.lport === f.lport;
    const primary = all.filter((f) => !f.benign && !f.follow_on && !f.orphan);
    for (const f of all.filter((x) => x.orphan && !x.benign)) {
      // segments of connections this host does not have follow a cause on that port; alone, they may be one
      const cause = primary.find((c) => sameSpot(c, f));
      if (cause) f.follow_on = `segment of a connection lost to ${cause.reason} on :${cause.lport}`;
    }
    const causes = all.filter((f) => !f.benign && !f.follow_on).sort((a, b) => b.count - a.count);
    causes.forEach((f, i) => {
      f.rank = i + 1;
    });
    for (const f of all) if (!f.benign && f.follow_on) f.follows = causes.find((c) => sameSpot(c, f))?.rank ?? null;
    const order = (f: Entry) => (f.benign ? 2 : f.follow_on ? 1 : 0);
    const findings = all
      .sort((a, b) => order(a) - order(b) || (order(a) === 0 ? a.rank - b.rank : b.count - a.count))
      .map(({ richness: _r, lport: _l, orphan: _o, ...f }, i) => ({ ...f, rank: i + 1 }));
    const retransmits = [...this.retransmits.values()].sort((a, b) => b.count - a.count);
    const connects = [...this.connects.values()].sort((a, b) => b.count - a.count);
    return { findings, retransmits, connects };
  }
}

export function findingsText(
  findings: Finding[],
  retransmits: RetransmitSummary[],
  seconds: number,
  title = 'droptrace explain',
  connects: ConnectSummary[] = [],
): string {
  const real = findings.filter((f) => !f.benign && !f.follow_on);
  const followOn = findings.filter((f) => !f.benign && f.follow_on);
  const benign = findings.filter((f) => f.benign);
  const sum = (fs: Finding[]) => fs.reduce((n, f) => n + f.count, 0);
  const lines = [
    `${title}: ${seconds} s traced, ${sum(real)} drops that matter${followOn.length ? `, ${sum(followOn)} follow-on` : ''}, ${sum(benign)} benign`,
  ];
  if (!real.length) lines.push(`  no drops found that are not normal operation${connects.length ? ', but connect() failed (below)' : ''}`);
  if (connects.length) {
    // no packet, no counter: without these a host out of source ports looks healthy
    lines.push('', 'connect() failures, no free local port (EADDRNOTAVAIL):');
    for (const c of connects) {
      lines.push(`    ${esc(c.where)}: ${esc(c.comm)} ×${c.count} to ${esc(c.destinations.join(', '))}`);
      if (c.hint) lines.push(`    ${esc(c.hint)}`);
    }
  }
  for (const f of real) {
    lines.push('');
    lines.push(`${String(f.rank).padStart(2)}. ${esc(f.where)}  ${f.layer ?? '?'}/${esc(f.component ?? '?')}  ${f.reason}  ×${f.count}`);
    if (f.hint) lines.push(`    ${esc(f.hint)}`);
    const ev = Object.entries(f.evidence)
      .map(([k, v]) => `${k}=${esc(String(v))}`)
      .join(' ');
    if (ev) lines.push(`    evidence: ${ev}`);
    const ex = f.example;
    if (ex.saddr)
      lines.push(
        `    e.g. ${ex.proto} ${ex.saddr}${ex.sport !== null ? `:${ex.sport}` : ''} > ${ex.daddr}${ex.dport !== null ? `:${ex.dport}` : ''} at ${esc(f.locations[0] ?? '?')}`,
      );
    for (const g of followOn.filter((x) => x.follows === f.rank)) lines.push(`    then: ${g.reason} ×${g.count} (${g.follow_on})`);
  }
  const apart = followOn.filter((f) => f.follows === null);
  if (apart.length) {
    lines.push('', 'follow-on drops (consequences of another loss, not causes):');
    for (const f of apart) lines.push(`    ${esc(f.where)} ${f.reason} ×${f.count} (${f.follow_on})`);
  }
  if (retransmits.length) {
    lines.push('', 'TCP retransmits:');
    for (const r of retransmits) {
      lines.push(
        `    ${esc(r.where)}: ${r.count} (${Object.entries(r.kinds)
          .map(([k, n]) => `${k} ${n}`)
          .join(', ')})`,
      );
    }
  }
  if (benign.length) {
    // one entry per place and reason: which function purged the queue does not matter here
    const byReason = new Map<string, number>();
    for (const f of benign) byReason.set(`${esc(f.where)} ${f.reason}`, (byReason.get(`${esc(f.where)} ${f.reason}`) ?? 0) + f.count);
    const entries = [...byReason].sort((a, b) => b[1] - a[1]).map(([what, n]) => `${what} ×${n}`);
    lines.push('', `benign (normal operation): ${entries.join(', ')}`);
  }
  return `${lines.join('\n')}\n`;
}
