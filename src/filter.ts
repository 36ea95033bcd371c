/**
 * What to trace, as the user says it, checked here (native code only asserts) and turned into the
 * in-kernel filter.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { release } from 'node:os';
import { L4_NUMBER } from './decode/format.js';
import { DroptraceError } from './errors.js';
import type { ReasonNames } from './kernel/btf-names.js';
import type { AddonLayout, NativeFilter } from './native/addon.js';
import { excerpt } from './output/escape.js';

export interface TraceFilter {
  /** Network namespace inodes: drops in them, or on a veth whose peer is in them. */
  netns?: number[];
  /** cgroup v2 ids of the sockets involved. */
  cgroups?: bigint[];
  /** IPv4/IPv6 addresses: either end of the packet. */
  addresses?: string[];
  /** Drop reason names (NETFILTER_DROP, …) as the running kernel names them. */
  reasons?: string[];
  proto?: string;
  port?: number;
  /**
   * Only the listed namespaces, cgroups and addresses, even when the lists are empty (a followed
   * container that is down: trace nothing of it rather than everything).
   */
  restrict?: boolean;
}

const AF_INET = 2;
const AF_INET6 = 10;

/** A filter set larger than the kernel's map: refused whole, never cut (a cut set traces the wrong things). */
export const FILTER_FULL = 'ERR_DROPTRACE_FILTER_FULL';

function checkFits(what: string, count: number, capacity: number): void {
  if (count <= capacity) return;
  throw new DroptraceError(
    FILTER_FULL,
    `the filter names ${count} ${what}; the kernel's filter set holds ${capacity}`,
    `trace fewer at once (or none: without --netns/--container everything is traced), or run one droptrace per group`,
  );
}

export function addressBytes(addr: string): { family: number; bytes: Buffer } {
  const bytes = Buffer.alloc(16);
  if (isIPv4(addr)) {
    for (const [i, part] of addr.split('.').entries()) bytes.writeUInt8(Number(part), i);
    return { family: AF_INET, bytes };
  }
  if (!isIPv6(addr))
    throw new DroptraceError('ERR_DROPTRACE_FILTER_ADDRESS', `not an IP address: ${excerpt(addr)}`, 'give an IPv4 or IPv6 address');
  const [head, tail = ''] = addr.split('::');
  const words = (s: string) => (s ? s.split(':') : []);
  const expand = (parts: string[]) =>
    parts.flatMap((p) =>
      p.includes('.') ? [p.split('.').slice(0, 2), p.split('.').slice(2)].map(([a, b]) => ((+a << 8) | +b).toString(16)) : [p],
    );
  const h = expand(words(head));
  const t = expand(words(tail));
  const all = addr.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  for (const [i, w] of all.entries()) bytes.writeUInt16BE(Number.parseInt(w, 16), i * 2);
  return { family: AF_INET6, bytes };
}

export function nativeFilter(filter: TraceFilter, emit: boolean, reasons: ReasonNames, layout: AddonLayout): NativeFilter {
  const c = layout.constants;
  let flags = 0;
  // the kernel sets are sets: a namespace named twice (by name and by inode) takes one entry
  const netns = [...new Set(filter.netns ?? [])];
  const cgroups = [...new Set(filter.cgroups ?? [])];
  const addresses = [...new Set(filter.addresses ?? [])];
  checkFits('network namespaces', netns.length, c.DT_FILTER_NETNS_MAX);
  checkFits('cgroups', cgroups.length, c.DT_FILTER_CGROUP_MAX);
  checkFits('addresses', addresses.length, c.DT_FILTER_ADDR_MAX);
  const addrs = addresses.map(addressBytes);
  if (netns.length || filter.restrict) flags |= c.DT_FILTER_NETNS;
  if (cgroups.length) flags |= c.DT_FILTER_CGROUP;
  if (addrs.length) flags |= c.DT_FILTER_ADDR;
  if (filter.reasons?.length && !reasons.available) {
    throw new DroptraceError(
      'ERR_DROPTRACE_KERNEL_NO_REASONS',
      `kernel ${release()} passes no drop reasons (added in 5.17): --reason cannot be filtered in the kernel`,
      'filter by --container, --netns, --address or --proto instead; each drop still carries a reason derived from its location',
    );
  }
  const codes = (filter.reasons ?? []).map((name) => {
    const code = reasons.code(name);
    if (code === undefined) {
      const near = reasons
        .names()
        .filter((n) => n.includes(name.toUpperCase().slice(0, 4)))
        .slice(0, 8);
      throw new DroptraceError(
        'ERR_DROPTRACE_FILTER_REASON',
        `unknown drop reason: ${excerpt(name)}`,
        `this kernel's reasons are listed by \`droptrace reasons\`${near.length ? `; close: ${near.join(', ')}` : ''}`,
      );
    }
    return code;
  });
  if (codes.length) flags |= c.DT_FILTER_REASON;
  let l4proto = 0;
  if (filter.proto !== undefined) {
    l4proto = L4_NUMBER[filter.proto.toLowerCase()] ?? 0;
    if (!l4proto)
      throw new DroptraceError('ERR_DROPTRACE_FILTER_PROTO', `unknown protocol: ${filter.proto}`, 'use tcp, udp, icmp or icmpv6');
    flags |= c.DT_FILTER_PROTO;
  }
  let port = 0;
  if (filter.port !== undefined) {
    if (!Number.isInteger(filter.port) || filter.port < 1 || filter.port > 65535) {
      throw new DroptraceError('ERR_DROPTRACE_FILTER_PORT', `bad port: ${filter.port}`, 'a port is a whole number from 1 to 65535');
    }
    port = filter.port;
    flags |= c.DT_FILTER_PORT;
  }
  return { flags, emit: emit ? 1 : 0, l4proto, port, reasons: codes, netns, cgroups, addrs };
}
