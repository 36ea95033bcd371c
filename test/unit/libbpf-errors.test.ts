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
    ['attach tp_btf/kfree_skb', ENOENT, 'ERR_DROPTRACE_TRACEPOINT_MISSING'],
    ['attach tp_btf/kfree_skb', EBUSY, 'ERR_DROPTRACE_BPF_ATTACH'],
    ['load tp_btf programs', EINVAL, 'ERR_DROPTRACE_BPF_LOAD'],
  ])('%s, errno %i → %s', (op, errno, code) => {
    const e = fromNative(nativeError(op, errno, ['libbpf: prog "kfree_skb_btf": failed to load']));
    expect(e).toBeInstanceOf(DroptraceError);
    expect(e).toMatchObject({ code, errno, op, log: ['libbpf: prog "kfree_skb_btf": failed to load'] });
    expect((e as DroptraceError).hint).toBeTruthy();
    expect((e as DroptraceError).message).toContain('libbpf: prog "kfree_skb_btf": failed to load');
  });

  it('leaves other errors alone', () => {
    const other = new TypeError('x');
    expect(fromNative(other)).toBe(other);
  });
});
