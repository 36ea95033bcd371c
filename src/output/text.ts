/** The human stream: one aligned line per event, the container (or netns) first. */
import type { ConnectErrorRecord, DropRecord, LostRecord, RetransmitRecord, TraceEvent } from '../events.js';
import { escapeTerminal as esc } from './escape.js';

export interface TextOptions {
  color: boolean;
}

const RED = '\x1b[31m';
const YELLOW = '\x1b[33m';
const DIM = '\x1b[2m';
const RESET = '\x1b[0m';

function endpoint(addr: string | null, port: number | null, family: string | null): string {
  if (addr === null) return '-';
  const a = family === 'ipv6' ? `[${addr}]` : addr;
  return port === null ? a : `${a}:${port}`;
}

function where(e: TraceEvent): string {
  return e.container ? esc(e.container.name) : `netns:${e.netns}`;
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

/** "06:15:03.123456" from the RFC 3339 time. */
function clock(time: string): string {
  return time.slice(11, 26);
}

export function textLine(e: TraceEvent, opts: TextOptions): string {
  if (e.type === 'connect_error') return connectLine(e, opts);
  return e.type === 'drop' ? dropLine(e, opts) : retransmitLine(e, opts);
}

function connectLine(e: ConnectErrorRecord, { color }: TextOptions): string {
  // a process names itself (prctl PR_SET_NAME): escaped like every name from a container
  const tuple = `tcp   ${esc(e.comm)}[${e.pid}] > ${endpoint(e.daddr, e.dport, e.family)}`;
  const label = color ? `${RED}EADDRNOTAVAIL${RESET}` : 'EADDRNOTAVAIL';
  return `${clock(e.time)}  ${pad(where(e), 16)} ${pad('-', 14)} tx ${pad(tuple, 52)} ${pad(label, 22)} connect(): ${esc(e.hint)}`;
}

function dropLine(e: DropRecord, { color }: TextOptions): string {
  const tuple = `${pad(e.proto ?? '-', 5)} ${endpoint(e.saddr, e.sport, e.family)} > ${endpoint(e.daddr, e.dport, e.family)}`;
  const flags = e.tcp_flags ? ` [${e.tcp_flags}]` : '';
  // names and rule text come from whoever is root in the namespace: escaped (src/output/escape.ts)
  const dev = e.ifname ? esc(`${e.ifname}${e.peer ? `>${e.peer.ifname}` : ''}`) : '-';
  const reason = color ? `${e.benign ? DIM : RED}${e.reason}${RESET}` : e.reason;
  const layer = e.layer ? `  ${e.layer}/${esc(e.component ?? '?')}` : '';
  const hint = e.hint ? `: ${esc(e.hint)}` : '';
  return `${clock(e.time)}  ${pad(where(e), 16)} ${pad(dev, 14)} ${pad(e.direction, 2)} ${pad(tuple + flags, 52)} ${pad(reason, 22)} ${esc(e.location)}${layer}${hint}`;
}

function retransmitLine(e: RetransmitRecord, { color }: TextOptions): string {
  const tuple = `tcp   ${endpoint(e.saddr, e.sport, e.family)} > ${endpoint(e.daddr, e.dport, e.family)}`;
  const label = `RETRANSMIT/${e.kind}`;
  const kind = color ? `${YELLOW}${label}${RESET}` : label;
  return `${clock(e.time)}  ${pad(where(e), 16)} ${pad('-', 14)} tx ${pad(tuple, 52)} ${pad(kind, 22)} state ${e.state}, ${e.ca_state}${e.segments > 1 ? `, ${e.segments} segments` : ''}${e.err ? `, err ${e.err}` : ''}`;
}

export function lostLine(r: LostRecord): string {
  return `${clock(r.time)}  LOST ${r.count} events (${r.where}; ${r.total} in all): the consumer fell behind`;
}
