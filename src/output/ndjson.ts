/**
 * NDJSON: one record per line, keys in the order src/events.ts declares them (the order the decoder
 * builds them in), no pretty-printing. Records are data: they go to stdout, diagnostics to stderr.
 *
 * A line is jsonLine(record): JSON.stringify's text with escapeJsonText applied. Drops and
 * retransmits, the storm's records, are written by hand as bytes instead: most of a line's strings
 * recur event after event (reason, location, layer, component, hint, interface names, the
 * container), so their escaped UTF-8 is made once and copied, and the rest (times, addresses,
 * numbers) are ASCII written in place. No line string is built, flattened and encoded per event,
 * which is what JSON.stringify and a template literal both cost. The bytes are jsonLine's, byte for
 * byte (test/unit/ndjson.test.ts holds them together), and the key lists below must name every
 * field of the record types, or this file does not compile.
 */
import type { Container, DropRecord, DroptraceRecord, Evidence, Peer, RetransmitRecord } from '../events.js';
import { escapeJsonText } from './escape.js';
import { begin, byte, bytes, cut, NULL, num, plain } from './json-bytes.js';

export { releaseBytes } from './json-bytes.js';

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

/** One record as one NDJSON line: the definition the byte writer below must equal. */
export function jsonLine(record: DroptraceRecord): string {
  return escapeJsonText(`${JSON.stringify(record)}\n`);
}

/** The bytes of a JSON fragment, escaped as jsonLine escapes it. */
function utf8(json: string): Buffer {
  return Buffer.from(escapeJsonText(json), 'utf8');
}

/** Escaped JSON of strings that recur; bounded: a storm of distinct strings (hints with numbers) starts it over. */
const MEMO_MAX = 4096;
const memo = new Map<string, Buffer>();
function quote(v: string): Buffer {
  let j = memo.get(v);
  if (j === undefined) {
    j = utf8(JSON.stringify(v));
    if (memo.size >= MEMO_MAX) memo.clear();
    memo.set(v, j);
  }
  return j;
}

/**
 * One field's last value and its bytes, with the constant text around it (the key before, the next
 * key after): a line is then fewer pieces. The enricher and the decoder make a fresh string per
 * event (an interface name), so a Map look-up would hash it every time; comparing it with the
 * previous event's value is a length check and a memcmp, and in a storm it is nearly always equal.
 */
class Slot {
  private last: string | null = null;
  private json: Buffer;

  constructor(
    private readonly before = '',
    private readonly after = '',
  ) {
    this.json = Buffer.from(`${before}null${after}`);
  }

  of(v: string | null): Buffer {
    if (v === this.last) return this.json;
    this.last = v;
    this.json =
      v === null
        ? Buffer.from(`${this.before}null${this.after}`)
        : Buffer.concat([Buffer.from(this.before), quote(v), Buffer.from(this.after)]);
    return this.json;
  }
}

const s = {
  proto: new Slot(),
  family: new Slot(),
  tcpFlags: new Slot(',"tcp_flags":', ',"len":'),
  // the decoder's addresses are cached strings: the same object event after event
  saddr: new Slot(),
  daddr: new Slot(',"daddr":', ',"dport":'),
  cgroup: new Slot(),
  via: new Slot(),
  hint: new Slot('', ',"benign":false,"evidence":'),
  benignHint: new Slot('', ',"benign":true,"evidence":'),
  kind: new Slot(),
  state: new Slot(),
  caState: new Slot(),
  detectedBy: new Slot(',"detected_by":', '}\n'),
  host: new Slot(),
};

function str(v: string | null): string {
  return v === null ? 'null' : JSON.stringify(v);
}

/** Container objects are made once per index entry (enrich.ts) and not changed after. */
const containers = new WeakMap<Container, Buffer>();
function container(c: Container | null): Buffer {
  if (c === null) return NULL;
  let j = containers.get(c);
  if (j === undefined) {
    j = utf8(JSON.stringify(c));
    containers.set(c, j);
  }
  return j;
}

function peerJson(p: Peer | null): string {
  return p === null ? 'null' : `{"ifindex":${p.ifindex},"ifname":${str(p.ifname)},"mtu":${p.mtu},"netns":${p.netns}}`;
}

/** A key's bytes as the first of the evidence object and after another. */
const evidenceKeys = new Map<string, [Buffer, Buffer]>();
function evidence(ev: Evidence): void {
  let first = true;
  byte(0x7b);
  for (const k in ev) {
    const v = ev[k as keyof Evidence];
    if (v === undefined) continue;
    let key = evidenceKeys.get(k);
    if (key === undefined) {
      key = [utf8(`${JSON.stringify(k)}:`), utf8(`,${JSON.stringify(k)}:`)];
      evidenceKeys.set(k, key);
    }
    bytes(key[first ? 0 : 1]);
    first = false;
    if (typeof v === 'number') num(v);
    else if (typeof v === 'string') bytes(quote(v));
    else bytes(utf8(JSON.stringify(v)));
  }
  byte(0x7d);
}

/**
 * The runs of a drop's fields that are the same for every event of a kind (what it is and where it
 * happened), each kept as one fragment while the next event repeats the previous one's values: a
 * storm's line is then a dozen copies, not sixty. The hint is a field of its own: a template's
 * numbers (a queue's length) may change from one event to the next.
 */
const what = {
  host: '',
  reason: '',
  reason_code: -1 as number | null,
  reason_source: '',
  location: '',
  direction: '',
  proto: null as string | null,
  family: null as string | null,
  json: NULL as Buffer,
  fresh: false,
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
  json: NULL as Buffer,
  fresh: false,
};

function samePeer(a: Peer | null, b: Peer | null): boolean {
  return (
    a === b || (a !== null && b !== null && a.ifindex === b.ifindex && a.ifname === b.ifname && a.mtu === b.mtu && a.netns === b.netns)
  );
}

function whatJson(e: DropRecord): Buffer {
  const w = what;
  if (
    !w.fresh ||
    e.host !== w.host ||
    e.reason !== w.reason ||
    e.reason_code !== w.reason_code ||
    e.reason_source !== w.reason_source ||
    e.location !== w.location ||
    e.direction !== w.direction ||
    e.proto !== w.proto ||
    e.family !== w.family
  ) {
    w.fresh = true;
    w.host = e.host;
    w.reason = e.reason;
    w.reason_code = e.reason_code;
    w.reason_source = e.reason_source;
    w.location = e.location;
    w.direction = e.direction;
    w.proto = e.proto;
    w.family = e.family;
    w.json = utf8(
      `,"host":${str(e.host)},"reason":${str(e.reason)},"reason_code":${e.reason_code},"reason_source":${str(e.reason_source)},"location":${str(e.location)},"direction":${str(e.direction)},"proto":${str(e.proto)},"family":${str(e.family)},"saddr":`,
    );
  }
  return w.json;
}

function whereJson(e: DropRecord): Buffer {
  const w = where;
  if (
    !w.fresh ||
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
    e.component !== w.component
  ) {
    w.fresh = true;
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
    w.json = utf8(
      `,"ifindex":${e.ifindex},"ifname":${str(e.ifname)},"mtu":${e.mtu},"netns":${e.netns},"cgroup_id":${str(e.cgroup_id)},"peer":${peerJson(e.peer)},"sk_state":${str(e.sk_state)},"container":${JSON.stringify(e.container)},"container_via":${str(e.container_via)},"layer":${str(e.layer)},"component":${str(e.component)},"hint":`,
    );
  }
  return w.json;
}

const DROP_TIME = Buffer.from('{"type":"drop","time":');
const RETRANSMIT_TIME = Buffer.from('{"type":"retransmit","time":');
const HOST = Buffer.from(',"host":');
const SPORT = Buffer.from(',"sport":');
const DADDR = Buffer.from(',"daddr":');
const DPORT = Buffer.from(',"dport":');
const KIND = Buffer.from(',"kind":');
const STATE = Buffer.from(',"state":');
const PROTO = Buffer.from(',"proto":');
const FAMILY = Buffer.from(',"family":');
const SADDR = Buffer.from(',"saddr":');
const NETNS = Buffer.from(',"netns":');
const CGROUP_ID = Buffer.from(',"cgroup_id":');
const ERR = Buffer.from(',"err":');
const SEGMENTS = Buffer.from(',"segments":');
const CA_STATE = Buffer.from(',"ca_state":');
const CONTAINER = Buffer.from(',"container":');
const CONTAINER_VIA = Buffer.from(',"container_via":');
const END = Buffer.from('}\n');

function drop(e: DropRecord): void {
  bytes(DROP_TIME);
  plain(e.time);
  bytes(whatJson(e));
  bytes(s.saddr.of(e.saddr));
  bytes(SPORT);
  num(e.sport);
  bytes(s.daddr.of(e.daddr));
  num(e.dport);
  bytes(s.tcpFlags.of(e.tcp_flags));
  num(e.len);
  bytes(whereJson(e));
  bytes(e.benign ? s.benignHint.of(e.hint) : s.hint.of(e.hint));
  evidence(e.evidence);
  bytes(s.detectedBy.of(e.detected_by));
}

function retransmit(e: RetransmitRecord): void {
  bytes(RETRANSMIT_TIME);
  plain(e.time);
  bytes(HOST);
  bytes(s.host.of(e.host));
  bytes(KIND);
  bytes(s.kind.of(e.kind));
  bytes(STATE);
  bytes(s.state.of(e.state));
  bytes(PROTO);
  bytes(s.proto.of(e.proto));
  bytes(FAMILY);
  bytes(s.family.of(e.family));
  bytes(SADDR);
  plain(e.saddr);
  bytes(SPORT);
  num(e.sport);
  bytes(DADDR);
  plain(e.daddr);
  bytes(DPORT);
  num(e.dport);
  bytes(NETNS);
  num(e.netns);
  bytes(CGROUP_ID);
  bytes(s.cgroup.of(e.cgroup_id));
  bytes(ERR);
  num(e.err);
  bytes(SEGMENTS);
  num(e.segments);
  bytes(CA_STATE);
  bytes(s.caState.of(e.ca_state));
  bytes(CONTAINER);
  bytes(container(e.container));
  bytes(CONTAINER_VIA);
  bytes(s.via.of(e.container_via));
  bytes(END);
}

/** Records as NDJSON bytes, ready for stdout: jsonLine() of each, concatenated. */
export function ndjsonBytes(records: readonly DroptraceRecord[]): Buffer {
  begin();
  for (const r of records) {
    if (r.type === 'drop') drop(r);
    else if (r.type === 'retransmit') retransmit(r);
    else bytes(Buffer.from(jsonLine(r), 'utf8'));
  }
  return cut();
}
