/** The CLI's exit statuses: one table, from error codes. */
import { DroptraceError } from '../errors.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
/** Bad usage: an option value, an unknown name. */
export const EXIT_USAGE = 2;
/** `droptrace check`: the command ran, and drops that were not expected happened. */
export const EXIT_UNEXPECTED_DROPS = 3;
/** The kernel lacks what droptrace needs (sysexits EX_UNAVAILABLE). */
export const EXIT_UNAVAILABLE = 69;
/** Not permitted (sysexits EX_NOPERM). */
export const EXIT_NOPERM = 77;

const BY_CODE: Record<string, number> = {
  ERR_DROPTRACE_PERMISSION: EXIT_NOPERM,
  ERR_DROPTRACE_PID_ACCESS: EXIT_NOPERM,
  ERR_DROPTRACE_TRACEFS: EXIT_UNAVAILABLE,
  ERR_DROPTRACE_BPF_LOAD: EXIT_UNAVAILABLE,
  ERR_DROPTRACE_BPF_ATTACH: EXIT_UNAVAILABLE,
};

export function exitCodeFor(e: unknown): number {
  if (!(e instanceof DroptraceError)) return EXIT_FAILURE;
  if (BY_CODE[e.code] !== undefined) return BY_CODE[e.code];
  // the kernel lacks BTF, a tracepoint, a program type: nothing the user can fix by options
  if (e.code.startsWith('ERR_DROPTRACE_KERNEL_')) return EXIT_UNAVAILABLE;
  if (/^ERR_DROPTRACE_(OPTION|VERB|FILTER|NETNS_UNKNOWN|NETNS_TYPE|PID_UNKNOWN|CONTAINER_UNKNOWN|POD_UNKNOWN)/.test(e.code))
    return EXIT_USAGE;
  return EXIT_FAILURE;
}
