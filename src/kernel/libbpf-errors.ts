/** The addon's libbpf errors (code ERR_DROPTRACE_LIBBPF, errno, op, log) as DroptraceErrors. */
import { constants } from 'node:os';
import { DroptraceError } from '../errors.js';
import { permissionHint } from './capabilities.js';

interface NativeError extends Error {
  code?: string;
  errno?: number;
  op?: string;
  log?: string[];
}

export function fromNative(e: unknown): unknown {
  const err = e as NativeError;
  if (err?.code !== 'ERR_DROPTRACE_LIBBPF') return e;
  const { EPERM, EACCES, ENOENT, ESRCH, EINVAL, E2BIG, ENOSPC } = constants.errno;
  const op = err.op ?? 'libbpf';
  const tail = err.log?.length ? `\n${err.log.map((l) => `  libbpf: ${l}`).join('\n')}` : '';
  let out: DroptraceError;
  if (err.errno === EPERM || err.errno === EACCES) {
    out = new DroptraceError('ERR_DROPTRACE_PERMISSION', `${err.message}${tail}`, permissionHint());
  } else if ((err.errno === ENOENT || err.errno === ESRCH) && op.startsWith('attach')) {
    out = new DroptraceError(
      'ERR_DROPTRACE_TRACEPOINT_MISSING',
      `${err.message}${tail}`,
      'this kernel lacks the skb:kfree_skb or tcp:tcp_retransmit_* tracepoint (Linux 5.17 or newer has them)',
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
    out = new DroptraceError(
      'ERR_DROPTRACE_BPF_LOAD',
      `${err.message}${tail}`,
      err.errno === EINVAL
        ? 'the verifier or CO-RE rejected the programs for this kernel: report it with the libbpf lines above'
        : 'see the libbpf lines above',
    );
  }
  out.errno = err.errno;
  out.op = op;
  out.log = err.log;
  return out;
}
