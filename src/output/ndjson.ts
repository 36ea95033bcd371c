/**
 * NDJSON: one record per line, keys in the order src/events.ts declares them (the order the decoder
 * builds them in), no pretty-printing. Records are data: they go to stdout, diagnostics to stderr.
 *
 * Drops and retransmits, the storm's records, are written by hand from cached fragments instead of
 * JSON.stringify of each object: most of a line's strings recur event after event (reason,
 * location, layer, component, hint, interface names, the container), so their JSON is made once.
 * The output is byte for byte JSON.stringify's (test/unit/ndjson.test.ts holds them together), and
 * the key lists below must name every field of the record types, or this file does not compile.
 */
import type { Container, DropRecord, DroptraceRecord, Evidence, Peer, RetransmitRecord } from '../events.js';
import { escapeJsonText } from './escape.js';

/** Every key of T, each once, in the order given: a field added to T and not here fails to compile. */
type KeyList<T> = readonly (keyof T)[] & { length: number };
type Covers<T, L extends readonly (keyof T)[]> = [Exclude<keyof T, L[number]>] extends [never] ? L : never;

export const DROP_KEYS = [
  'type',
  'time',
  'host',
  'reason',
  'reason_code',
  'reason_source',
  'location',
  'direction',
  'proto',
  'family',
  'saddr',
  'sport',
  'daddr',
  'dport',
  'tcp_flags',
  'len',
  'ifindex',
  'ifname',
  'mtu',
  'netns',
  'cgroup_id',
  'peer',
  'sk_state',
  'container',
  'container_via',
  'layer',
  'component',
  'hint',
  'benign',
  'evidence',
  'detected_by',
] as const satisfies KeyList<DropRecord>;
export const RETRANSMIT_KEYS = [
  'type',
  'time',
  'host',
  'kind',
  'state',
  'proto',
  'family',
  'saddr',
  'sport',
  'daddr',
  'dport',
  'netns',
  'cgroup_id',
  'err',
  'segments',
  'ca_state',
  'container',
  'container_via',
] as const satisfies KeyList<RetransmitRecord>;
export const PEER_KEYS = ['ifindex', 'ifname', 'mtu', 'netns'] as const satisfies KeyList<Peer>;
const dropKeysCovered: Covers<DropRecord, typeof DROP_KEYS> = DROP_KEYS;
const retransmitKeysCovered: Covers<RetransmitRecord, typeof RETRANSMIT_KEYS> = RETRANSMIT_KEYS;
const peerKeysCovered: Covers<Peer, typeof PEER_KEYS> = PEER_KEYS;
void dropKeysCovered;
void retransmitKeysCovered;
void peerKeysCovered;

/** JSON of strings that recur; bounded: a storm of distinct strings (hints with numbers) starts it over. */
const MEMO_MAX = 4096;
const memo = new Map<string, string>();
function quote(v: string): string {
  let j = memo.get(v);
  if (j === undefined) {
    j = JSON.stringify(v);
    if (memo.size >= MEMO_MAX) memo.clear();
    memo.set(v, j);
  }
  return j;
}

/**
 * One field's last value and its JSON. The enricher and the decoder make a fresh string per event
 * (a hint, an interface name), so a Map look-up would hash it every time; comparing it with the
 * previous event's value is a length check and a memcmp, and in a storm it is nearly always equal.
 */
class Slot {
  private last: string | null = null;
  private json = 'null';

  of(v: string | null): string {
    if (v === this.last) return this.json;
    this.last = v;
    this.json = v === null ? 'null' : quote(v);
    return this.json;
  }
}

const s = {
  reason: new Slot(),
  location: new Slot(),
  direction: new Slot(),
  proto: new Slot(),
  family: new Slot(),
  tcpFlags: new Slot(),
  ifname: new Slot(),
  cgroup: new Slot(),
  peerIfname: new Slot(),
  skState: new Slot(),
  via: new Slot(),
  layer: new Slot(),
  component: new Slot(),
  hint: new Slot(),
  kind: new Slot(),
  state: new Slot(),
  caState: new Slot(),
  detectedBy: new Slot(),
  host: new Slot(),
};

function str(v: string | null): string {
  return v === null ? 'null' : quote(v);
}

/**
 * Times and addresses are made by the decoder from digits, hex and separators (decode/format.ts):
 * nothing in them needs escaping, and they differ on every event, so they are not memoised.
 */
function plain(v: string | null): string {
  return v === null ? 'null' : `"${v}"`;
}

/** Container objects are made once per index entry (enrich.ts) and not changed after. */
const containers = new WeakMap<Container, string>();
function container(c: Container | null): string {
  if (c === null) return 'null';
  let j = containers.get(c);
  if (j === undefined) {
    j = JSON.stringify(c);
    containers.set(c, j);
  }
  return j;
}

function peer(p: Peer | null): string {
  return p === null ? 'null' : `{"ifindex":${p.ifindex},"ifname":${s.peerIfname.of(p.ifname)},"mtu":${p.mtu},"netns":${p.netns}}`;
}

const evidenceKeys = new Map<string, string>();
function evidence(ev: Evidence): string {
  let out = '';
  for (const k in ev) {
    const v = ev[k as keyof Evidence];
    if (v === undefined) continue;
    let key = evidenceKeys.get(k);
    if (key === undefined) {
      key = `${JSON.stringify(k)}:`;
      evidenceKeys.set(k, key);
    }
    out += `${out ? ',' : ''}${key}${typeof v === 'number' ? v : typeof v === 'string' ? str(v) : JSON.stringify(v)}`;
  }
  return `{${out}}`;
}

/**
 * The runs of a drop's fields that are the same for every event of a kind (what it is and where it
 * happened), each kept as one string while the next event repeats the previous one's values: a
 * storm's line is then a dozen pieces, not sixty (each piece of a template is an allocation).
 */
const what = {
  reason: '',
  reason_code: -1 as number | null,
  reason_source: '',
  location: '',
  direction: '',
  proto: null as string | null,
  family: null as string | null,
  json: '',
};
const where = {
  ifindex: -1,
  ifname: null as string | null,
  mtu: null as number | null,
  netns: -1,
  cgroup_id: null as string | null,
  peer: null as Peer | null,
  sk_state: null as string | null,
  container: null as Container | null,
  container_via: null as string | null,
  layer: null as string | null,
  component: null as string | null,
  hint: null as string | null,
  benign: false,
  json: '',
};

function samePeer(a: Peer | null, b: Peer | null): boolean {
  return (
    a === b || (a !== null && b !== null && a.ifindex === b.ifindex && a.ifname === b.ifname && a.mtu === b.mtu && a.netns === b.netns)
  );
}

function whatJson(e: DropRecord): string {
  const w = what;
  if (
    w.json === '' ||
    e.reason !== w.reason ||
    e.reason_code !== w.reason_code ||
    e.reason_source !== w.reason_source ||
    e.location !== w.location ||
    e.direction !== w.direction ||
    e.proto !== w.proto ||
    e.family !== w.family
  ) {
    w.reason = e.reason;
    w.reason_code = e.reason_code;
    w.reason_source = e.reason_source;
    w.location = e.location;
    w.direction = e.direction;
    w.proto = e.proto;
    w.family = e.family;
    w.json = `"reason":${s.reason.of(e.reason)},"reason_code":${e.reason_code},"reason_source":"${e.reason_source}","location":${s.location.of(e.location)},"direction":${s.direction.of(e.direction)},"proto":${s.proto.of(e.proto)},"family":${s.family.of(e.family)},"saddr":`;
  }
  return w.json;
}

function whereJson(e: DropRecord): string {
  const w = where;
  if (
    w.json === '' ||
    e.ifindex !== w.ifindex ||
    e.ifname !== w.ifname ||
    e.mtu !== w.mtu ||
    e.netns !== w.netns ||
    e.cgroup_id !== w.cgroup_id ||
    !samePeer(e.peer, w.peer) ||
    e.sk_state !== w.sk_state ||
    e.container !== w.container ||
    e.container_via !== w.container_via ||
    e.layer !== w.layer ||
    e.component !== w.component ||
    e.hint !== w.hint ||
    e.benign !== w.benign
  ) {
    w.ifindex = e.ifindex;
    w.ifname = e.ifname;
    w.mtu = e.mtu;
    w.netns = e.netns;
    w.cgroup_id = e.cgroup_id;
    w.peer = e.peer === null ? null : { ...e.peer };
    w.sk_state = e.sk_state;
    w.container = e.container;
    w.container_via = e.container_via;
    w.layer = e.layer;
    w.component = e.component;
    w.hint = e.hint;
    w.benign = e.benign;
    w.json = `"ifindex":${e.ifindex},"ifname":${s.ifname.of(e.ifname)},"mtu":${e.mtu},"netns":${e.netns},"cgroup_id":${s.cgroup.of(e.cgroup_id)},"peer":${peer(e.peer)},"sk_state":${s.skState.of(e.sk_state)},"container":${container(e.container)},"container_via":${s.via.of(e.container_via)},"layer":${s.layer.of(e.layer)},"component":${s.component.of(e.component)},"hint":${s.hint.of(e.hint)},"benign":${e.benign},"evidence":`;
  }
  return w.json;
}

export function dropLine(e: DropRecord): string {
  return `{"type":"drop","time":${plain(e.time)},"host":${s.host.of(e.host)},${whatJson(e)}${plain(e.saddr)},"sport":${e.sport},"daddr":${plain(e.daddr)},"dport":${e.dport},"tcp_flags":${s.tcpFlags.of(e.tcp_flags)},"len":${e.len},${whereJson(e)}${evidence(e.evidence)},"detected_by":${s.detectedBy.of(e.detected_by)}}\n`;
}

export function retransmitLine(e: RetransmitRecord): string {
  return `{"type":"retransmit","time":${plain(e.time)},"host":${s.host.of(e.host)},"kind":${s.kind.of(e.kind)},"state":${s.state.of(e.state)},"proto":${s.proto.of(e.proto)},"family":${s.family.of(e.family)},"saddr":${plain(e.saddr)},"sport":${e.sport},"daddr":${plain(e.daddr)},"dport":${e.dport},"netns":${e.netns},"cgroup_id":${s.cgroup.of(e.cgroup_id)},"err":${e.err},"segments":${e.segments},"ca_state":${s.caState.of(e.ca_state)},"container":${container(e.container)},"container_via":${s.via.of(e.container_via)}}\n`;
}

export function ndjsonLine(r: DroptraceRecord): string {
  if (r.type === 'drop') return dropLine(r);
  if (r.type === 'retransmit') return retransmitLine(r);
  return `${JSON.stringify(r)}\n`;
}

/** One record as one NDJSON line. */
export function jsonLine(record: DroptraceRecord): string {
  return escapeJsonText(`${JSON.stringify(record)}\n`);
}

/** Records as NDJSON text; the stream writes it through jsonBytes() (src/output/escape.ts). */
export function ndjsonLines(records: readonly DroptraceRecord[]): string {
  let out = '';
  for (const r of records) out += ndjsonLine(r);
  return out;
}
