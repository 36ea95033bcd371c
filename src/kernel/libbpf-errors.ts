/** The addon's libbpf errors (code ERR_DROPTRACE_LIBBPF, errno, op, log) as DroptraceErrors. */
import { constants, release } from 'node:os';
import { DroptraceError } from '../errors.js';
import { permissionHint } from './capabilities.js';

interface NativeError extends Error {
  code?: string;
  errno?: number;
  op?: string;
  log?: string[];
}

/** Lines libbpf prints when the verifier or CO-RE turned a program down (libbpf.c, relo_core.c). */
const REJECTED = /PROG LOAD LOG|failed to resolve CO-RE relocation|CO-RE relocat|verifier|invalid func|processed \d+ insns/;

export function fromNative(e: unknown, kernel = release()): unknown {
  const err = e as NativeError;
  if (err?.code !== 'ERR_DROPTRACE_LIBBPF') return e;
  const { EPERM, EACCES, ENOENT, ESRCH, E2BIG, ENOSPC } = constants.errno;
  const op = err.op ?? 'libbpf';
  const log = err.log ?? [];
  const tail = log.length ? `\n${log.map((l) => `  libbpf: ${l}`).join('\n')}` : '';
  const rejected = log.some((l) => REJECTED.test(l));
  let out: DroptraceError;
  if (op.startsWith('load') && rejected) {
    // EACCES (and sometimes EPERM) from BPF_PROG_LOAD is the verifier's answer, not a missing privilege
    out = new DroptraceError(
      'ERR_DROPTRACE_BPF_LOAD',
      `${err.message} (kernel ${kernel})${tail}`,
      'the verifier or CO-RE rejected the programs for this kernel: report it with the libbpf lines above',
    );
  } else if (err.errno === EPERM || err.errno === EACCES) {
    out = new DroptraceError('ERR_DROPTRACE_PERMISSION', `${err.message}${tail}`, permissionHint());
  } else if ((err.errno === ENOENT || err.errno === ESRCH) && op.startsWith('attach')) {
    out = new DroptraceError(
      'ERR_DROPTRACE_KERNEL_NO_TRACEPOINT',
      `kernel ${kernel} lacks a tracepoint droptrace attaches to: ${err.message}${tail}`,
      'droptrace needs skb:kfree_skb and tcp:tcp_retransmit_skb/tcp_retransmit_synack (Linux 4.16 or newer)',
    );
  } else if (op.startsWith('write filter')) {
    out = new DroptraceError(
      err.errno === E2BIG || err.errno === ENOSPC ? 'ERR_DROPTRACE_FILTER_FULL' : 'ERR_DROPTRACE_FILTER_WRITE',
      `${err.message}${tail}`,
      'the kernel refused the filter set: trace fewer namespaces, cgroups or addresses at once',
    );
  } else if (op.startsWith('attach')) {
    out = new DroptraceError('ERR_DROPTRACE_BPF_ATTACH', `${err.message}${tail}`, 'see the libbpf lines above');
  } else {
    out = new DroptraceError('ERR_DROPTRACE_BPF_LOAD', `${err.message} (kernel ${kernel})${tail}`, 'see the libbpf lines above');
  }
  out.errno = err.errno;
  out.op = op;
  out.log = err.log;
  return out;
}
