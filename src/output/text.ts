/**
 * The human stream: one aligned line per event, the container (or netns) first. On a terminal the
 * line fits its width (`fittedLine`); `--wide` and pipes get every field (`textLine`), uncut.
 */
import type { ConnectErrorRecord, DropRecord, LostRecord, RetransmitRecord, TraceEvent } from '../events.js';
import { paint } from './colour.js';
import { escapeTerminal as esc } from './escape.js';
import { type Cell, type Column, cell, fitLine, layout } from './fit.js';

export interface TextOptions {
  color: boolean;
  /** Terminal width: the line is fitted to it. Absent: every field, uncut. */
  width?: number;
}

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
  if (opts.width !== undefined) return fittedLine(e, opts.width, opts.color);
  if (e.type === 'connect_error') return connectLine(e, opts);
  return e.type === 'drop' ? dropLine(e, opts) : retransmitLine(e, opts);
}

const reasonStyle = (e: DropRecord) => (e.benign ? 'dim' : 'red');

function connectLine(e: ConnectErrorRecord, { color }: TextOptions): string {
  // a process names itself (prctl PR_SET_NAME): escaped like every name from a container
  const tuple = `tcp   ${esc(e.comm)}[${e.pid}] > ${endpoint(e.daddr, e.dport, e.family)}`;
  const label = paint(color, 'red', 'EADDRNOTAVAIL') + ' '.repeat(22 - 'EADDRNOTAVAIL'.length);
  return `${clock(e.time)}  ${pad(where(e), 16)} ${pad('-', 14)} tx ${pad(tuple, 52)} ${label} connect(): ${esc(e.hint)}`;
}

function dropLine(e: DropRecord, { color }: TextOptions): string {
  const tuple = `${pad(e.proto ?? '-', 5)} ${endpoint(e.saddr, e.sport, e.family)} > ${endpoint(e.daddr, e.dport, e.family)}`;
  const flags = e.tcp_flags ? ` [${e.tcp_flags}]` : '';
  // names and rule text come from whoever is root in the namespace: escaped (src/output/escape.ts)
  const dev = e.ifname ? esc(`${e.ifname}${e.peer ? `>${e.peer.ifname}` : ''}`) : '-';
  const reason = paint(color, reasonStyle(e), e.reason) + ' '.repeat(Math.max(0, 22 - e.reason.length));
  const layer = e.layer ? `  ${e.layer}/${esc(e.component ?? '?')}` : '';
  const hint = e.hint ? `: ${esc(e.hint)}` : '';
  return `${clock(e.time)}  ${pad(where(e), 16)} ${pad(dev, 14)} ${pad(e.direction, 2)} ${pad(tuple + flags, 52)} ${reason} ${esc(e.location)}${layer}${hint}`;
}

function retransmitLine(e: RetransmitRecord, { color }: TextOptions): string {
  const tuple = `tcp   ${endpoint(e.saddr, e.sport, e.family)} > ${endpoint(e.daddr, e.dport, e.family)}`;
  const label = `RETRANSMIT/${e.kind}`;
  const kind = paint(color, 'yellow', label) + ' '.repeat(Math.max(0, 22 - label.length));
  return `${clock(e.time)}  ${pad(where(e), 16)} ${pad('-', 14)} tx ${pad(tuple, 52)} ${kind} state ${e.state}, ${e.ca_state}${e.segments > 1 ? `, ${e.segments} segments` : ''}${e.err ? `, err ${e.err}` : ''}`;
}

// time, container, direction, protocol, addresses, reason, layer/component; the hint takes the rest
const COLUMNS: Column[] = [
  { ideal: 12, min: 8, order: 1 },
  { ideal: 16, min: 10, order: 2 },
  { ideal: 2, min: 2, order: 9 },
  { ideal: 4, min: 3, order: 3 },
  { ideal: 42, min: 19, order: 4, cutStart: true },
  { ideal: 20, min: 14, order: 6 },
  { ideal: 19, min: 18, order: 5 },
];
const layouts = new Map<number, ReturnType<typeof layout>>();

function layoutFor(width: number): ReturnType<typeof layout> {
  let l = layouts.get(width);
  if (!l) {
    l = layout(COLUMNS, width);
    layouts.set(width, l);
  }
  return l;
}

/**
 * The addresses in `n` columns: both ends when they fit, else the peer's address and the local port
 * (`10.0.0.2>:80` for a packet received on port 80; `>10.0.0.9:443` for one sent), the ephemeral
 * port being the first thing to go.
 */
function tupleIn(e: DropRecord | RetransmitRecord, n: number): string {
  const full = `${endpoint(e.saddr, e.sport, e.family)} > ${endpoint(e.daddr, e.dport, e.family)}`;
  if (full.length <= n) return full;
  const dir = e.type === 'drop' ? e.direction : 'tx';
  if (dir === 'rx') return `${endpoint(e.saddr, null, e.family)}>:${e.dport ?? '-'}`;
  if (dir === 'tx') return `>${endpoint(e.daddr, e.dport, e.family)}`;
  return full;
}

/** The line for a terminal `width` columns wide: the same fields in the same columns for every event. */
export function fittedLine(e: TraceEvent, width: number, color: boolean): string {
  const { widths, rest } = layoutFor(width);
  const w = (i: number) => widths[i] as number;
  const time = e.time.slice(11, 11 + (w(0) >= 15 ? 15 : w(0) >= 12 ? 12 : 8));
  const drop = e.type === 'drop';
  let reason: string;
  let layer: string;
  let hint: string;
  let addrs: string;
  if (e.type === 'drop') {
    reason = e.reason;
    layer = e.layer ? `${e.layer}/${e.component ?? '?'}` : '';
    hint = e.hint ?? e.location;
    addrs = tupleIn(e, w(4));
  } else if (e.type === 'connect_error') {
    reason = 'EADDRNOTAVAIL';
    layer = 'socket/connect';
    hint = e.hint ?? '';
    addrs = `${e.comm}[${e.pid}] > ${endpoint(e.daddr, e.dport, e.family)}`;
  } else {
    reason = `RETRANSMIT/${e.kind}`;
    layer = 'transport/tcp';
    hint = `state ${e.state}, ${e.ca_state}${e.segments > 1 ? `, ${e.segments} segments` : ''}${e.err ? `, err ${e.err}` : ''}`;
    addrs = tupleIn(e, w(4));
  }
  const cells: Cell[] = [
    { text: cell(time, w(0)), style: 'dim' },
    { text: cell(where(e), w(1)), style: 'bold' },
    { text: cell(drop ? e.direction : 'tx', w(2)) },
    { text: cell(drop ? (e.proto ?? '-') : 'tcp', w(3)) },
    { text: cell(addrs, w(4), true) },
    { text: cell(reason, w(5)), style: e.type === 'drop' ? reasonStyle(e) : e.type === 'connect_error' ? 'red' : 'yellow' },
    { text: cell(layer, w(6)), style: 'cyan' },
  ];
  return fitLine(cells, rest ? { text: cell(hint, rest) } : null, width, color);
}

export function lostLine(r: LostRecord, width?: number): string {
  const line = `${clock(r.time)}  LOST ${r.count} events (${r.where}; ${r.total} in all): the consumer fell behind`;
  return width === undefined ? line : line.slice(0, width);
}
