import { describe, expect, it } from 'vitest';
import { DroptraceError } from '../../src/errors.js';
import { addressBytes, nativeFilter } from '../../src/filter.js';
import type { ReasonNames } from '../../src/kernel/btf-names.js';
import { loadAddon } from '../../src/native/addon.js';

const reasons: ReasonNames = {
  available: true,
  name: (c) => (c === 77 ? 'NETFILTER_DROP' : `UNKNOWN_${c}`),
  code: (n) => (n.toUpperCase() === 'NETFILTER_DROP' ? 77 : undefined),
  names: () => ['NETFILTER_DROP'],
};
const layout = loadAddon().layout;
const C = layout.constants;

describe('addressBytes', () => {
  it.each([
    ['10.200.1.2', 2, '0ac80102000000000000000000000000'],
    ['::1', 10, '00000000000000000000000000000001'],
    ['fd00:1::2', 10, 'fd000001000000000000000000000002'],
    ['2001:db8::1:0:0:1', 10, '20010db8000000000001000000000001'],
    ['::ffff:10.0.0.1', 10, '00000000000000000000ffff0a000001'],
    ['1:2:3:4:5:6:7:8', 10, '00010002000300040005000600070008'],
  ])('%s', (addr, family, hex) => {
    const got = addressBytes(addr);
    expect(got.family).toBe(family);
    expect(got.bytes.toString('hex')).toBe(hex);
  });

  it('rejects what is not an address', () => {
    expect(() => addressBytes('nginx')).toThrow(expect.objectContaining({ code: 'ERR_DROPTRACE_FILTER_ADDRESS' }));
  });
});

describe('nativeFilter', () => {
  it('sets no flags for an empty filter: everything is traced', () => {
    expect(nativeFilter({}, true, reasons, layout)).toMatchObject({ flags: 0, emit: 1, netns: [], reasons: [] });
  });

  it.each([
    ['netns', { netns: [4026532001] }, C.DT_FILTER_NETNS],
    ['cgroups', { cgroups: [123n] }, C.DT_FILTER_CGROUP],
    ['addresses', { addresses: ['10.0.0.1'] }, C.DT_FILTER_ADDR],
    ['reasons', { reasons: ['netfilter_drop'] }, C.DT_FILTER_REASON],
    ['proto', { proto: 'udp' }, C.DT_FILTER_PROTO],
    ['port', { port: 80 }, C.DT_FILTER_PORT],
  ])('%s sets its flag', (_name, filter, flag) => {
    expect(nativeFilter(filter, true, reasons, layout).flags).toBe(flag);
  });

  it('turns names into numbers: reasons by this kernel, protocols by IANA', () => {
    expect(nativeFilter({ reasons: ['NETFILTER_DROP'], proto: 'tcp' }, false, reasons, layout)).toMatchObject({
      reasons: [77],
      l4proto: 6,
      emit: 0,
    });
  });

  it.each([
    [{ reasons: ['NO_SUCH'] }, 'ERR_DROPTRACE_FILTER_REASON'],
    [{ proto: 'gre' }, 'ERR_DROPTRACE_FILTER_PROTO'],
    [{ port: 0 }, 'ERR_DROPTRACE_FILTER_PORT'],
    [{ port: 65536 }, 'ERR_DROPTRACE_FILTER_PORT'],
  ])('%j is refused with %s and a hint', (filter, code) => {
    try {
      nativeFilter(filter, true, reasons, layout);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(DroptraceError);
      expect(e).toMatchObject({ code });
      expect((e as DroptraceError).hint).toBeTruthy();
    }
  });
});

describe('a kernel without drop reasons (before 5.17)', () => {
  const none: ReasonNames = { available: false, name: (c) => `UNKNOWN_${c}`, code: () => undefined, names: () => [] };

  it('refuses --reason with a coded error that says why', () => {
    expect(() => nativeFilter({ reasons: ['NO_SOCKET'] }, true, none, layout)).toThrow(
      expect.objectContaining({ code: 'ERR_DROPTRACE_KERNEL_NO_REASONS', message: expect.stringContaining('5.17') }),
    );
  });

  it('filters everything else as usual', () => {
    expect(nativeFilter({ proto: 'udp' }, true, none, layout)).toMatchObject({ l4proto: 17, reasons: [] });
  });
});
