/**
 * Names of kernel enums, read from the running kernel's BTF: never copied into droptrace, because
 * their numbers move between kernel versions (NO_SOCKET is 2 on 6.1, 3 on 6.12).
 */
import type { Addon } from '../native/addon.js';

const REASON_PREFIX = 'SKB_DROP_REASON_';
// the subsystem of a reason lives in its upper 16 bits (include/net/dropreason.h)
const SUBSYS_SHIFT = 16;

export interface ReasonNames {
  /** False on kernels before 5.17, which pass no reason: every name is then UNKNOWN_<n>. */
  readonly available: boolean;
  name(code: number): string;
  code(name: string): number | undefined;
  names(): string[];
}

export function reasonNames(addon: Addon): ReasonNames {
  const entries = addon.btfEnum({ name: 'skb_drop_reason' }) ?? [];
  const subsystems = addon.btfEnum({ name: 'skb_drop_reason_subsys' }) ?? [];
  const byCode = new Map<number, string>();
  const byName = new Map<string, number>();
  for (const [raw, value] of entries) {
    // SKB_NOT_DROPPED_YET and SKB_CONSUMED have no SKB_DROP_REASON_ prefix
    const name = raw.startsWith(REASON_PREFIX) ? raw.slice(REASON_PREFIX.length) : raw.replace(/^SKB_/, '');
    if (name === 'MAX' || name === 'SUBSYS_MASK') continue;
    if (!byCode.has(value)) byCode.set(value, name);
    byName.set(name, value);
  }
  const subsysName = new Map(subsystems.map(([n, v]) => [v, n.replace(`${REASON_PREFIX}SUBSYS_`, '')]));
  return {
    available: entries.length > 0,
    name(code) {
      const known = byCode.get(code);
      if (known !== undefined) return known;
      const subsys = code >>> SUBSYS_SHIFT;
      const name = subsys ? `${subsysName.get(subsys) ?? `SUBSYS_${subsys}`}_${code & 0xffff}` : `UNKNOWN_${code}`;
      byCode.set(code, name);
      return name;
    },
    code: (name) => byName.get(name.toUpperCase().replace(REASON_PREFIX, '')),
    names: () => [...byName.keys()],
  };
}

/** TCP states (an anonymous enum in include/net/tcp_states.h), without the TCP_ prefix. */
export function tcpStateNames(addon: Addon): string[] {
  const names: string[] = [];
  for (const [name, value] of addon.btfEnum({ member: 'TCP_ESTABLISHED' }) ?? []) {
    names[value] = name.replace(/^TCP_/, '');
  }
  return names;
}

/** Congestion-avoidance states (enum tcp_ca_state), without the TCP_CA_ prefix. */
export function caStateNames(addon: Addon): string[] {
  const names: string[] = [];
  for (const [name, value] of addon.btfEnum({ name: 'tcp_ca_state' }) ?? []) names[value] = name.replace(/^TCP_CA_/, '');
  return names;
}
