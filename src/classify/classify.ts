/**
 * classify(): drop facts → layer, component, benign, hint and the evidence the hint was built from.
 * Called per event (hundreds of thousands a second), so the table lookup, location rules and
 * template parsing happen once per (reason, location) and are cached; an event only fills strings.
 */
import type { DropRecord, Evidence, Layer } from '../events.js';
import type { ConntrackStats } from '../readers/conntrack-evidence.js';
import type { NetfilterRuleHit } from '../readers/netfilter-rules.js';
import {
  type EvidenceKind,
  type HintCondition,
  LOCATION_PREFIXES,
  LOCATIONS,
  REASON_PREFIXES,
  REASONS,
  type ReasonRow,
  UNKNOWN_REASON,
} from './table.js';
import { compileTemplate, type Getter, placeholdersOf, type Render } from './template.js';

/**
 * What classification knows besides the record: facts that are not in the event but come from
 * looking around (the container's name, the namespace's ruleset and conntrack table). The readers
 * that provide them live in src/readers/; classify() itself does no I/O.
 */
export interface ClassifyContext {
  /** The name to say "in nginx" with: set only when the drop happened in that container's own namespace. */
  container: string | null;
  /**
   * NETFILTER_DROP: the drop rules whose counter rose between a read before and one after the drop.
   * One names the rule; several are candidates; undefined: the read after it is running; null: none.
   */
  netfilter: readonly NetfilterRuleHit[] | null | undefined;
  /** NETFILTER_DROP: no read names this drop's rule: drops came faster than the rulesets could be read. */
  rulesSkipped?: boolean;
  conntrack: ConntrackStats | null;
}

/** Nothing known beyond the record. */
export const NO_CONTEXT: ClassifyContext = Object.freeze({ container: null, netfilter: null, conntrack: null });

export interface Classification {
  layer: Layer;
  component: string;
  benign: boolean;
  hint: string;
  evidence: Evidence;
  /** The reason is not in the table: a name prefix (or nothing) decided. */
  fallback: boolean;
}

interface Ctx {
  d: DropRecord;
  x: ClassifyContext;
  func: string;
}

const pos = (n: number | null | undefined): number | undefined => (n != null && n > 0 ? n : undefined);
const str = (n: number | undefined): string | undefined => (n === undefined ? undefined : String(n));
const rule = (c: Ctx): NetfilterRuleHit | undefined => (c.x.netfilter?.length === 1 ? c.x.netfilter[0] : undefined);
/** iptables, ip6tables, iptables-legacy → iptables: one label for the tool a rule was written with. */
const sourceLabel = (h: NetfilterRuleHit): string => h.source.replace(/6?tables(-legacy)?$/, 'tables');
/** The label all the hits share (a single rule's, or the candidates' when they agree). */
function rulesSource(x: ClassifyContext): string | undefined {
  const hits = x.netfilter;
  if (!hits?.length) return undefined;
  const label = sourceLabel(hits[0] as NetfilterRuleHit);
  return hits.every((h) => sourceLabel(h) === label) ? label : undefined;
}
const localPort = (d: DropRecord): number | null => (d.direction === 'tx' ? d.sport : d.dport);
const rcvbufSize = (d: DropRecord) => pos(d.evidence.rcvbuf_size);
const queueLimit = (d: DropRecord) => pos(d.evidence.queue_limit);
const qdiscKind = (d: DropRecord) => d.evidence.qdisc || undefined;

const GETTERS: Record<string, Getter<Ctx>> = {
  reason: (c) => c.d.reason,
  func: (c) => c.func || undefined,
  len: (c) => String(c.d.len),
  mtu: (c) => str(pos(c.d.mtu)),
  ifname: (c) => c.d.ifname || undefined,
  peer_ifname: (c) => c.d.peer?.ifname || undefined,
  peer_mtu: (c) => str(pos(c.d.peer?.mtu)),
  proto: (c) => c.d.proto ?? undefined,
  saddr: (c) => c.d.saddr ?? undefined,
  daddr: (c) => c.d.daddr ?? undefined,
  lport: (c) => str(localPort(c.d) ?? undefined),
  sk_state: (c) => c.d.sk_state ?? undefined,
  queue_len: (c) => (queueLimit(c.d) === undefined ? undefined : String(c.d.evidence.queue_len ?? 0)),
  queue_limit: (c) => str(queueLimit(c.d)),
  rcvbuf_used: (c) => (rcvbufSize(c.d) === undefined ? undefined : String(c.d.evidence.rcvbuf_used ?? 0)),
  rcvbuf_size: (c) => str(rcvbufSize(c.d)),
  qdisc: (c) => qdiscKind(c.d),
  qdisc_qlen: (c) => (qdiscKind(c.d) === undefined ? undefined : String(c.d.evidence.qdisc_qlen ?? 0)),
  qdisc_backlog: (c) => (qdiscKind(c.d) === undefined ? undefined : String(c.d.evidence.qdisc_backlog ?? 0)),
  rule: (c) => rule(c)?.rule,
  rule_source: (c) => rule(c)?.source,
  rules_source: (c) => rulesSource(c.x),
  rule_count: (c) => str(c.x.netfilter?.length),
  rules: (c) => c.x.netfilter?.map((h) => `\`${h.rule}\``).join(' or '),
  rule_packets: (c) => str(rule(c)?.packets),
  chain: (c) => rule(c)?.chain,
  table: (c) => rule(c)?.table,
  conntrack_count: (c) => str(c.x.conntrack?.count),
  conntrack_max: (c) => str(c.x.conntrack?.max),
  container: (c) => c.x.container || undefined,
  neigh_entries: (c) => str(pos(c.d.evidence.neigh_entries)),
  gc_thresh3: (c) => str(pos(c.d.evidence.gc_thresh3)),
  neigh_table: (c) => (c.d.family === 'ipv6' ? 'ndisc_cache' : 'arp_cache'),
  neigh_sysctl: (c) => `net.${c.d.family === 'ipv6' ? 'ipv6' : 'ipv4'}.neigh.default.gc_thresh3`,
};

type Test = (d: DropRecord, x: ClassifyContext) => boolean;
const CONDITIONS: Record<HintCondition, Test> = {
  over_peer_mtu: (d) => d.peer != null && d.peer.mtu > 0 && d.len > d.peer.mtu,
  over_mtu: (d) => d.mtu != null && d.mtu > 0 && d.len > d.mtu,
  has_peer: (d) => d.peer != null,
  has_rule: (_d, x) => x.netfilter?.length === 1,
  rule_candidates: (_d, x) => (x.netfilter?.length ?? 0) > 1,
  // undefined: not read yet; null or []: read, and no rule's counter rose
  rules_skipped: (_d, x) => x.rulesSkipped === true,
  rules_unread: (_d, x) => x.netfilter === undefined,
  multicast_dst: (d) => d.daddr !== null && (/^ff/i.test(d.daddr) || /^2(2[4-9]|3\d)\./.test(d.daddr)),
  syn_queue_full: (d) => d.detected_by === 'syn_queue_full',
  syn_listen_drop: (d) => d.detected_by === 'syn_listen_drop',
  neigh_table_full: (d) => (d.evidence.gc_thresh3 ?? 0) > 0 && (d.evidence.neigh_entries ?? 0) >= (d.evidence.gc_thresh3 ?? 0),
  // sk_acceptq_is_full(): more children waiting than the limit (include/net/sock.h)
  accept_queue_full: (d) =>
    d.sk_state === 'LISTEN' && queueLimit(d) !== undefined && (d.evidence.queue_len ?? 0) > (d.evidence.queue_limit ?? 0),
  conntrack_full: (_d, x) => x.conntrack != null && x.conntrack.max > 0 && x.conntrack.count >= x.conntrack.max,
};

/** Component names starting with `$` come from the event. */
const DYNAMIC_COMPONENTS: Record<string, { get: (d: DropRecord, x: ClassifyContext) => string | undefined; otherwise: string }> = {
  $proto: { get: (d) => d.proto ?? undefined, otherwise: 'l4' },
  $qdisc: { get: qdiscKind, otherwise: 'qdisc' },
  $rule_source: {
    get: (_d, x) => rulesSource(x),
    otherwise: 'netfilter',
  },
};

type ComponentOf = (d: DropRecord, x: ClassifyContext) => string;
function componentOf(name: string): ComponentOf {
  const dyn = DYNAMIC_COMPONENTS[name];
  if (!dyn) return () => name;
  return (d, x) => dyn.get(d, x) ?? dyn.otherwise;
}

function renderOf(template: string): Render<Ctx> {
  const full = placeholdersOf(template).includes('container') ? template : `${template}[ in {container}]`;
  return compileTemplate(full, GETTERS);
}

/** Copies what supports the hint into the record's evidence: the kernel's facts, then the context's. */
type EvidenceBuilder = (d: DropRecord, x: ClassifyContext, e: Evidence) => void;
const EVIDENCE: Record<EvidenceKind, EvidenceBuilder> = {
  len: (d, _x, e) => {
    e.len = d.len;
  },
  mtu: (d, _x, e) => {
    const m = pos(d.mtu);
    if (m !== undefined) e.mtu = m;
  },
  peer_mtu: (d, _x, e) => {
    const m = pos(d.peer?.mtu);
    if (m !== undefined) e.peer_mtu = m;
  },
  accept_queue: (d, _x, e) => {
    const limit = queueLimit(d);
    if (limit === undefined) return;
    e.queue_len = d.evidence.queue_len ?? 0;
    e.queue_limit = limit;
  },
  rcvbuf: (d, _x, e) => {
    const size = rcvbufSize(d);
    if (size === undefined) return;
    e.rcvbuf_used = d.evidence.rcvbuf_used ?? 0;
    e.rcvbuf_size = size;
  },
  qdisc: (d, _x, e) => {
    const kind = qdiscKind(d);
    if (kind === undefined) return;
    e.qdisc = kind;
    e.qdisc_qlen = d.evidence.qdisc_qlen ?? 0;
    e.qdisc_backlog = d.evidence.qdisc_backlog ?? 0;
  },
  rule: (_d, x, e) => {
    if ((x.netfilter?.length ?? 0) > 1) {
      e.rule_candidates = x.netfilter?.map((h) => h.rule);
      return;
    }
    const hit = x.netfilter?.[0];
    if (!hit) return;
    e.rule = hit.rule;
    e.rule_packets = hit.packets;
    e.table = hit.table;
  },
  neigh: (d, _x, e) => {
    if (d.evidence.neigh_entries) e.neigh_entries = d.evidence.neigh_entries;
    if (d.evidence.gc_thresh3) e.gc_thresh3 = d.evidence.gc_thresh3;
  },
  conntrack: (_d, x, e) => {
    if (!x.conntrack) return;
    e.conntrack_count = x.conntrack.count;
    e.conntrack_max = x.conntrack.max;
  },
};

interface CompiledVariant {
  test: Test;
  render: Render<Ctx>;
  component: ComponentOf | undefined;
  benign: boolean | undefined;
}

interface Compiled {
  layer: Layer;
  component: ComponentOf;
  benign: boolean;
  fallback: boolean;
  func: string;
  render: Render<Ctx>;
  variants: CompiledVariant[];
  evidence: EvidenceBuilder[];
}

let lastLocation = '';
let lastFunction = '';

/** `tcp_v4_rcv+0x91/0x1040` → `tcp_v4_rcv`; `foo.isra.0+0x4` → `foo`; a bare address → ''. */
export function locationFunction(location: string): string {
  // the previous event's location, nearly always the same in a storm (the audit asks per event)
  if (location === lastLocation) return lastFunction;
  let func: string;
  if (location.startsWith('0x') || location === '') func = '';
  else {
    let end = location.indexOf('+');
    if (end < 0) end = location.length;
    const dot = location.indexOf('.');
    if (dot >= 0 && dot < end) end = dot;
    func = location.slice(0, end);
  }
  lastLocation = location;
  lastFunction = func;
  return func;
}

function longestPrefix(name: string, rules: ReadonlyArray<readonly [string, ReasonRow]>): ReasonRow | undefined {
  let best: readonly [string, ReasonRow] | undefined;
  for (const r of rules) if (name.startsWith(r[0]) && (!best || r[0].length > best[0].length)) best = r;
  return best?.[1];
}

/** The table row for (reason, function) and whether a fallback decided; exported for tests. */
export function resolveRow(reason: string, func: string): { row: ReasonRow; fallback: boolean } {
  let row: ReasonRow | undefined = REASONS[reason];
  let fallback = false;
  if (!row) {
    fallback = true;
    row = longestPrefix(reason, REASON_PREFIXES) ?? UNKNOWN_REASON;
  }
  if (row.byLocation && func) {
    const loc = LOCATIONS[func] ?? longestPrefix(func, LOCATION_PREFIXES);
    if (loc) row = loc;
  }
  const at = row.at?.[func];
  if (at) row = { ...row, ...at };
  return { row, fallback };
}

function compile(reason: string, location: string): Compiled {
  const func = locationFunction(location);
  const { row, fallback } = resolveRow(reason, func);
  // a location row replaces the reason's row; the reason's own variants still come first
  const own = REASONS[reason]?.byLocation ? (REASONS[reason].variants ?? []) : [];
  return {
    layer: row.layer,
    component: componentOf(row.component),
    benign: row.benign ?? false,
    fallback,
    func,
    render: renderOf(row.hint),
    variants: [...(row === REASONS[reason] ? [] : own), ...(row.variants ?? [])].map((v) => ({
      test: v.when ? CONDITIONS[v.when] : () => true,
      render: renderOf(v.hint),
      component: v.component === undefined ? undefined : componentOf(v.component),
      benign: v.benign,
    })),
    evidence: (row.evidence ?? []).map((k) => EVIDENCE[k]),
  };
}

// reason → location → compiled row; both key spaces are small (reasons × drop sites)
const cache = new Map<string, Map<string, Compiled>>();

function compiledFor(reason: string, location: string): Compiled {
  let byLocation = cache.get(reason);
  if (!byLocation) {
    byLocation = new Map();
    cache.set(reason, byLocation);
  }
  let c = byLocation.get(location);
  if (!c) {
    c = compile(reason, location);
    byLocation.set(location, c);
  }
  return c;
}

/**
 * The layer, component, hint, benign flag and supporting evidence of one drop: a pure function of
 * the decoded record and what the context knows. The record is not changed.
 */
export function classify(drop: DropRecord, context: ClassifyContext = NO_CONTEXT): Classification {
  const c = compiledFor(drop.reason, drop.location);
  const ctx: Ctx = { d: drop, x: context, func: c.func };
  let render = c.render;
  let component = c.component;
  let benign = c.benign;
  for (const v of c.variants) {
    if (!v.test(drop, context)) continue;
    render = v.render;
    if (v.component) component = v.component;
    if (v.benign !== undefined) benign = v.benign;
    break;
  }
  const evidence: Evidence = {};
  for (const fill of c.evidence) fill(drop, context, evidence);
  // a reason newer than the table is placed by its name prefix: say so, the user should know
  const hint = c.fallback && c.layer !== 'unknown' ? `${render(ctx)} [reason not in droptrace's table; placed by its name]` : render(ctx);
  return { layer: c.layer, component: component(drop, context), benign, hint, evidence, fallback: c.fallback };
}

/** Static facts of a reason (for `droptrace reasons`/`explain` listings), without an event. */
export function describeReason(reason: string): {
  layer: Layer;
  component: string;
  benign: boolean;
  fallback: boolean;
} {
  const { row, fallback } = resolveRow(reason, '');
  return { layer: row.layer, component: row.component, benign: row.benign ?? false, fallback };
}

/**
 * Static facts of a drop site, from the reason and location alone (for `top`, whose rows are the
 * kernel's counters and carry no packet): a component the packet would name falls back to what the
 * location says (`__udp4_lib_rcv` → udp) or to the row's generic name.
 */
export function describeDrop(reason: string, location: string): { layer: Layer; component: string; benign: boolean } {
  const func = locationFunction(location);
  const { row } = resolveRow(reason, func);
  let component = row.component;
  const dyn = DYNAMIC_COMPONENTS[component];
  if (dyn) component = (component === '$proto' ? /(udp|tcp|icmp)/.exec(func)?.[1] : undefined) ?? dyn.otherwise;
  return { layer: row.layer, component, benign: row.benign ?? false };
}
