/**
 * The one error class of droptrace. `code` is stable (ERR_DROPTRACE_<AREA>_<WHAT>) and is what
 * callers and the CLI switch on; `hint` says what to do about it.
 */
export class DroptraceError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  /** errno of the failed system call, for errors that come from libbpf or the kernel. */
  errno?: number;
  /** The operation that failed (e.g. "load", "attach kfree_skb"). */
  op?: string;
  /** libbpf's log lines printed during the failed call. */
  log?: string[];

  constructor(code: string, message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DroptraceError';
    this.code = code;
    this.hint = hint;
  }
}

export function isDroptraceError(e: unknown): e is DroptraceError {
  return e instanceof DroptraceError;
}
