import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { caStateNames, reasonNames, tcpStateNames } from '../../src/kernel/btf-names.js';
import { loadAddon } from '../../src/native/addon.js';

// Reason numbers move between kernels; names are read from this kernel's BTF. bpftool's C dump of
// the same BTF is the independent source the addon's answer is checked against.
const btfC = execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'c'], {
  encoding: 'utf8',
  maxBuffer: 1 << 30,
});
function enumValue(member: string): number {
  const m = new RegExp(`\\b${member} = (\\d+),`).exec(btfC);
  if (!m) throw new Error(`${member} not in vmlinux BTF`);
  return Number(m[1]);
}

describe('drop reason names from the running kernel', () => {
  const reasons = reasonNames(loadAddon());

  it('is available on this kernel', () => {
    expect(reasons.available).toBe(true);
  });

  it.each(['NOT_SPECIFIED', 'NO_SOCKET', 'NETFILTER_DROP', 'SOCKET_RCVBUFF', 'QDISC_DROP', 'TCP_LISTEN_OVERFLOW', 'IP_RPFILTER'])(
    '%s has the number the kernel gives it',
    (name) => {
      const code = enumValue(`SKB_DROP_REASON_${name}`);
      expect(reasons.code(name)).toBe(code);
      expect(reasons.name(code)).toBe(name);
    },
  );

  it('accepts the prefixed and lower-case spellings, and rejects unknown names', () => {
    expect(reasons.code('skb_drop_reason_netfilter_drop')).toBe(reasons.code('NETFILTER_DROP'));
    expect(reasons.code('NO_SUCH_REASON')).toBeUndefined();
  });

  it('drops the enum bookkeeping (MAX, SUBSYS_MASK) from the names', () => {
    expect(reasons.names()).not.toContain('MAX');
    expect(reasons.names()).not.toContain('SUBSYS_MASK');
    expect(reasons.names().length).toBeGreaterThan(60);
  });

  it('names numbers it does not know instead of failing', () => {
    expect(reasons.name(0xfff0)).toBe('UNKNOWN_65520');
  });
});

describe('TCP and congestion state names', () => {
  it('come from the kernel enums', () => {
    const states = tcpStateNames(loadAddon());
    expect(states[enumValue('TCP_ESTABLISHED')]).toBe('ESTABLISHED');
    expect(states[enumValue('TCP_LISTEN')]).toBe('LISTEN');
    expect(states[enumValue('TCP_NEW_SYN_RECV')]).toBe('NEW_SYN_RECV');
    const ca = caStateNames(loadAddon());
    expect(ca[enumValue('TCP_CA_Loss')]).toBe('Loss');
    expect(ca[enumValue('TCP_CA_Recovery')]).toBe('Recovery');
  });
});
