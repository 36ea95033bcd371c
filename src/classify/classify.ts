/**
 * classify(): drop facts → layer, component, benign, hint and the evidence the hint was built from.
 * Called per event (hundreds of thousands a second), so the table lookup, location rules and
 * template parsing happen once per (reason, location) and are cached; an event only fills strings.
 */
import type { Direction, Evidence, Layer } from '../events.js';
import type { ConntrackStats } from './conntrack-evidence.js';
import type { NetfilterRuleHit } from './netfilter-rules.js';
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
 * What classify() needs. The first group has DropRecord's names and meanings, so a decoded record
 * can be passed as is; the raw socket/qdisc numbers are dt_event's (0 means "not captured").
 */
export interface ClassifyInput {
  reason: string; // kernel name without SKB_DROP_REASON_
  location: string; // "func+0xoff", or a hex address when not symbolised
  len: number;
  ifname: string | null;
  mtu: number | null;
  peer: { ifname: string; mtu: number } | null;
  proto: string | null;
  saddr: string | null;
  daddr: string | null;
  sport: number | null;
  dport: number | null;
  direction: Direction;
  sk_state: string | null;
  sk_backlog?: number; // listener: accept queue length
  sk_max_backlog?: number; // listener: accept queue limit
  sk_rmem?: number; // receive buffer in use (bytes)
  sk_rcvbuf?: number; // receive buffer size (bytes)
  qdisc_kind?: string | null; // root qdisc of the device, e.g. "tbf"
  qdisc_qlen?: number;
  qdisc_backlog?: number;
  /** Container (or namespace) name, to say "in nginx". */
  container?: string | null;
  /** From NetfilterRules.current() for NETFILTER_DROP; the first hit is used. Absent: not read yet. */
  netfilter?: readonly NetfilterRuleHit[] | null;
  /** From ConntrackEvidence.current() for NETFILTER_DROP. */
  conntrack?: ConntrackStats | null;
}

/** An input with no facts at all: tests start from it, the enricher refills one per event. */
export function emptyClassifyInput(reason = ''): ClassifyInput {
  return {
    reason,
    location: '',
    len: 0,
    ifname: null,
    mtu: null,
    peer: null,
    proto: null,
    saddr: null,
    daddr: null,
    sport: null,
    dport: null,
    direction: 'unknown',
    sk_state: null,
  };
}

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
  in: ClassifyInput;
  func: string;
}

const pos = (n: number | null | undefined): number | undefined => (n != null && n > 0 ? n : undefined);
const str = (n: number | undefined): string | undefined => (n === undefined ? undefined : String(n));
const rule = (c: Ctx): NetfilterRuleHit | undefined => c.in.netfilter?.[0];
const localPort = (i: ClassifyInput): number | null => (i.direction === 'tx' ? i.sport : i.dport);
const rcvbufSize = (i: ClassifyInput) => pos(i.sk_rcvbuf);
const queueLimit = (i: ClassifyInput) => pos(i.sk_max_backlog);
const qdiscKind = (i: ClassifyInput) => i.qdisc_kind || undefined;

const GETTERS: Record<string, Getter<Ctx>> = {
  reason: (c) => c.in.reason,
  func: (c) => c.func || undefined,
  len: (c) => String(c.in.len),
  mtu: (c) => str(pos(c.in.mtu)),
  ifname: (c) => c.in.ifname || undefined,
  peer_ifname: (c) => c.in.peer?.ifname || undefined,
  peer_mtu: (c) => str(pos(c.in.peer?.mtu)),
  proto: (c) => c.in.proto ?? undefined,
  saddr: (c) => c.in.saddr ?? undefined,
  daddr: (c) => c.in.daddr ?? undefined,
  lport: (c) => str(localPort(c.in) ?? undefined),
  sk_state: (c) => c.in.sk_state ?? undefined,
  queue_len: (c) => (queueLimit(c.in) === undefined ? undefined : String(c.in.sk_backlog ?? 0)),
  queue_limit: (c) => str(queueLimit(c.in)),
  rcvbuf_used: (c) => (rcvbufSize(c.in) === undefined ? undefined : String(c.in.sk_rmem ?? 0)),
  rcvbuf_size: (c) => str(rcvbufSize(c.in)),
  qdisc: (c) => qdiscKind(c.in),
  qdisc_qlen: (c) => (qdiscKind(c.in) === undefined ? undefined : String(c.in.qdisc_qlen ?? 0)),
  qdisc_backlog: (c) => (qdiscKind(c.in) === undefined ? undefined : String(c.in.qdisc_backlog ?? 0)),
  rule: (c) => rule(c)?.rule,
  rule_source: (c) => rule(c)?.source,
  rule_packets: (c) => str(rule(c)?.packets),
  chain: (c) => rule(c)?.chain,
  table: (c) => rule(c)?.table,
  conntrack_count: (c) => str(c.in.conntrack?.count),
  conntrack_max: (c) => str(c.in.conntrack?.max),
  container: (c) => c.in.container || undefined,
};

const CONDITIONS: Record<HintCondition, (i: ClassifyInput) => boolean> = {
  over_peer_mtu: (i) => i.peer != null && i.peer.mtu > 0 && i.len > i.peer.mtu,
  over_mtu: (i) => i.mtu != null && i.mtu > 0 && i.len > i.mtu,
  has_peer: (i) => i.peer != null,
  has_rule: (i) => (i.netfilter?.length ?? 0) > 0,
  // undefined: not read yet; null or []: read, and no rule's counter rose
  rules_unread: (i) => i.netfilter === undefined,
  multicast_dst: (i) => i.daddr !== null && (/^ff/i.test(i.daddr) || /^2(2[4-9]|3\d)\./.test(i.daddr)),
  conntrack_full: (i) => i.conntrack != null && i.conntrack.max > 0 && i.conntrack.count >= i.conntrack.max,
};

/** Component names starting with `$` come from the event. */
const DYNAMIC_COMPONENTS: Record<string, { get: (i: ClassifyInput) => string | undefined; otherwise: string }> = {
  $proto: { get: (i) => i.proto ?? undefined, otherwise: 'l4' },
  $qdisc: { get: qdiscKind, otherwise: 'qdisc' },
  $rule_source: {
    get: (i) => i.netfilter?.[0]?.source.replace(/6?tables(-legacy)?$/, 'tables'),
    otherwise: 'netfilter',
  },
};

type ComponentOf = (i: ClassifyInput) => string;
function componentOf(name: string): ComponentOf {
  const dyn = DYNAMIC_COMPONENTS[name];
  if (!dyn) return () => name;
  return (i) => dyn.get(i) ?? dyn.otherwise;
}

function renderOf(template: string): Render<Ctx> {
  const full = placeholdersOf(template).includes('container') ? template : `${template}[ in {container}]`;
  return compileTemplate(full, GETTERS);
}

type EvidenceBuilder = (i: ClassifyInput, e: Evidence) => void;
const EVIDENCE: Record<EvidenceKind, EvidenceBuilder> = {
  len: (i, e) => {
    e.len = i.len;
  },
  mtu: (i, e) => {
    const m = pos(i.mtu);
    if (m !== undefined) e.mtu = m;
  },
  peer_mtu: (i, e) => {
    const m = pos(i.peer?.mtu);
    if (m !== undefined) e.peer_mtu = m;
  },
  accept_queue: (i, e) => {
    const limit = queueLimit(i);
    if (limit === undefined) return;
    e.queue_len = i.sk_backlog ?? 0;
    e.queue_limit = limit;
  },
  rcvbuf: (i, e) => {
    const size = rcvbufSize(i);
    if (size === undefined) return;
    e.rcvbuf_used = i.sk_rmem ?? 0;
    e.rcvbuf_size = size;
  },
  qdisc: (i, e) => {
    const kind = qdiscKind(i);
    if (kind === undefined) return;
    e.qdisc = kind;
    e.qdisc_qlen = i.qdisc_qlen ?? 0;
    e.qdisc_backlog = i.qdisc_backlog ?? 0;
  },
  rule: (i, e) => {
    const hit = i.netfilter?.[0];
    if (!hit) return;
    e.rule = hit.rule;
    e.rule_packets = hit.packets;
    e.table = hit.table;
  },
  conntrack: (i, e) => {
    if (!i.conntrack) return;
    e.conntrack_count = i.conntrack.count;
    e.conntrack_max = i.conntrack.max;
  },
};

interface CompiledVariant {
  test: (i: ClassifyInput) => boolean;
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

/** `tcp_v4_rcv+0x91/0x1040` → `tcp_v4_rcv`; `foo.isra.0+0x4` → `foo`; a bare address → ''. */
export function locationFunction(location: string): string {
  if (location.startsWith('0x') || location === '') return '';
  let end = location.indexOf('+');
  if (end < 0) end = location.length;
  const dot = location.indexOf('.');
  if (dot >= 0 && dot < end) end = dot;
  return location.slice(0, end);
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

export function classify(input: ClassifyInput): Classification {
  const c = compiledFor(input.reason, input.location);
  const ctx: Ctx = { in: input, func: c.func };
  let render = c.render;
  let component = c.component;
  let benign = c.benign;
  for (const v of c.variants) {
    if (!v.test(input)) continue;
    render = v.render;
    if (v.component) component = v.component;
    if (v.benign !== undefined) benign = v.benign;
    break;
  }
  const evidence: Evidence = {};
  for (const fill of c.evidence) fill(input, evidence);
  // a reason newer than the table is placed by its name prefix: say so, the user should know
  const hint = c.fallback && c.layer !== 'unknown' ? `${render(ctx)} [reason not in droptrace's table; placed by its name]` : render(ctx);
  return { layer: c.layer, component: component(input), benign, hint, evidence, fallback: c.fallback };
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
