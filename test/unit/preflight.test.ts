import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DroptraceError } from '../../src/errors.js';
import { VERB_CAPABILITIES } from '../../src/kernel/capabilities.js';
import { checkBtf, checkPrivileges, effectiveCaps } from '../../src/kernel/preflight.js';

const cap = (...bits: number[]) => bits.reduce((m, b) => m | (1n << BigInt(b)), 0n);
const CAP_SYS_ADMIN = 21;
const CAP_PERFMON = 38;
const CAP_BPF = 39;

describe('privileges', () => {
  it('reads the effective capability set from /proc/self/status', () => {
    expect(effectiveCaps('Name:\tnode\nCapInh:\t0000000000000000\nCapEff:\t000001ffffffffff\n')).toBe(0x1ffffffffffn);
    expect(effectiveCaps('Name:\tnode\n')).toBe(0n);
  });

  it.each([
    ['root (CAP_SYS_ADMIN)', cap(CAP_SYS_ADMIN), true],
    ['CAP_BPF + CAP_PERFMON', cap(CAP_BPF, CAP_PERFMON), true],
    ['CAP_BPF alone', cap(CAP_BPF), false],
    ['CAP_PERFMON alone', cap(CAP_PERFMON), false],
    ['nothing', 0n, false],
  ])('%s: allowed=%s', (_name, caps, allowed) => {
    if (allowed) {
      expect(() => checkPrivileges(caps)).not.toThrow();
      return;
    }
    try {
      checkPrivileges(caps);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(DroptraceError);
      expect(e).toMatchObject({ code: 'ERR_DROPTRACE_PERMISSION' });
      expect((e as DroptraceError).hint).toMatch(/root|CAP_BPF/);
    }
  });

  it('the hint never widens who may trace: no setcap on node, only droptrace gets the capabilities', () => {
    let hint = '';
    try {
      checkPrivileges(0n);
    } catch (e) {
      hint = (e as DroptraceError).hint ?? '';
    }
    expect(hint).not.toMatch(/setcap|command -v node|\+ep/);
    expect(hint).toMatch(/sudo droptrace/);
    expect(hint).toMatch(/launcher that runs droptrace and nothing else/);
    expect(hint).toMatch(/CAP_BPF.*CAP_PERFMON/);
    expect(hint).toMatch(/not put capabilities on the node binary/);
  });

  it('the README says which capabilities each verb needs, from the same table', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    for (const [verb, needs] of Object.entries(VERB_CAPABILITIES)) {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${verb}\``));
      expect(row, `README row for ${verb}`).toBeDefined();
      for (const n of needs) expect(row).toContain(n.cap);
    }
    expect(readme).not.toMatch(/setcap[^\n]*node/);
  });
});

describe('BTF', () => {
  it('passes when the kernel exposes BTF', () => {
    expect(() => checkBtf('/sys/kernel/btf/vmlinux')).not.toThrow();
  });

  it('explains a kernel without BTF', () => {
    expect(() => checkBtf('/nonexistent/btf/vmlinux')).toThrow(
      expect.objectContaining({ code: 'ERR_DROPTRACE_KERNEL_NO_BTF', hint: expect.stringContaining('CONFIG_DEBUG_INFO_BTF') }),
    );
  });
});
