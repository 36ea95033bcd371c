/** Option parsing shared by the verbs: values are checked here, with codes and hints. */
import { InvalidArgumentError } from 'commander';
import { resolveNetns } from '../containers/netns-names.js';
import { DroptraceError } from '../errors.js';
import type { TraceFilter } from '../filter.js';
import { netnsOfPid } from '../kernel/netns.js';

export interface FilterOptions {
  netns: string[];
  pid: string[];
  reason: string[];
  proto?: string;
  port?: number;
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function positiveNumber(what: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${what} must be a positive number.`);
    return n;
  };
}

export function positiveInteger(what: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${what} must be a positive whole number.`);
    return n;
  };
}

export function nonNegativeInteger(what: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${what} must be a whole number, 0 or more.`);
    return n;
  };
}

export function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError('a port is a whole number from 1 to 65535.');
  return n;
}

export function proto(value: string): string {
  const p = value.toLowerCase();
  if (!['tcp', 'udp', 'icmp', 'icmpv6'].includes(p)) throw new InvalidArgumentError('use tcp, udp, icmp or icmpv6.');
  return p;
}

/** The kernel filter from the options; names are resolved now, so a typo fails before loading anything. */
export function filterFromOptions(o: FilterOptions): TraceFilter {
  const netns = [...o.netns.map((n) => resolveNetns(n).inode), ...o.pid.map((p) => netnsOfPid(p))];
  const reasons = o.reason.map((r) => r.toUpperCase().replace(/^SKB_DROP_REASON_/, ''));
  for (const r of reasons) {
    if (!/^[A-Z0-9_]+$/.test(r))
      throw new DroptraceError(
        'ERR_DROPTRACE_FILTER_REASON',
        `bad reason name: ${r}`,
        'reason names look like NETFILTER_DROP; `droptrace reasons` lists them',
      );
  }
  return {
    ...(netns.length ? { netns } : {}),
    ...(reasons.length ? { reasons } : {}),
    ...(o.proto ? { proto: o.proto } : {}),
    ...(o.port ? { port: o.port } : {}),
  };
}
