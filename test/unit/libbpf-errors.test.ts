import { constants } from 'node:os';
import { describe, expect, it } from 'vitest';
import { DroptraceError } from '../../src/errors.js';
import { fromNative } from '../../src/kernel/libbpf-errors.js';

const { EPERM, ENOENT, EINVAL, EBUSY } = constants.errno;

/** What the addon throws (native/src/errors.cc): code, errno, op and libbpf's lines. */
function nativeError(op: string, errno: number, log: string[] = []): Error {
  return Object.assign(new Error(`${op} failed: x`), { code: 'ERR_DROPTRACE_LIBBPF', errno, op, log });
}

describe('libbpf errors become DroptraceErrors with a code and a hint', () => {
  it.each([
    ['load tp_btf programs', EPERM, 'ERR_DROPTRACE_PERMISSION'],
    ['attach tp_btf/kfree_skb', ENOENT, 'ERR_DROPTRACE_KERNEL_NO_TRACEPOINT'],
    ['attach tp_btf/kfree_skb', EBUSY, 'ERR_DROPTRACE_BPF_ATTACH'],
    ['load tp_btf programs', EINVAL, 'ERR_DROPTRACE_BPF_LOAD'],
  ])('%s, errno %i → %s', (op, errno, code) => {
    const e = fromNative(nativeError(op, errno, ['libbpf: prog "kfree_skb_btf": failed to load']));
    expect(e).toBeInstanceOf(DroptraceError);
    expect(e).toMatchObject({ code, errno, op, log: ['libbpf: prog "kfree_skb_btf": failed to load'] });
    expect((e as DroptraceError).hint).toBeTruthy();
    expect((e as DroptraceError).message).toContain('libbpf: prog "kfree_skb_btf": failed to load');
  });

  it.each([
    ['EACCES', constants.errno.EACCES],
    ['EPERM', EPERM],
    ['EINVAL', EINVAL],
  ])('a verifier rejection (%s) is a load error with the whole log, never a permission error', (_name, errno) => {
    const log = [
      "prog 'kfree_skb_btf': BPF program load failed: Permission denied",
      "prog 'kfree_skb_btf': -- BEGIN PROG LOAD LOG --",
      'Unrecognized arg#0 type PTR',
      `${'R1 type=ctx expected=fp '.repeat(80)}`,
      '-- END PROG LOAD LOG --',
    ];
    const e = fromNative(nativeError('load tp_btf programs', errno, log), '5.10.0-35-amd64') as DroptraceError;
    expect(e.code).toBe('ERR_DROPTRACE_BPF_LOAD');
    expect(e.message).toContain('kernel 5.10.0-35-amd64');
    // every line, whole: the 2,000-character one too
    for (const line of log) expect(e.message).toContain(line);
    expect(e.log).toEqual(log);
  });

  it('a missing tracepoint names the kernel', () => {
    const e = fromNative(nativeError('attach tracepoint/skb/kfree_skb', ENOENT), '4.9.0-1-amd64') as DroptraceError;
    expect(e).toMatchObject({ code: 'ERR_DROPTRACE_KERNEL_NO_TRACEPOINT' });
    expect(e.message).toContain('kernel 4.9.0-1-amd64');
  });

  it('leaves other errors alone', () => {
    const other = new TypeError('x');
    expect(fromNative(other)).toBe(other);
  });
});
