/** `--pid`: a process's network namespace. Names and paths are resolved by containers/netns-names.ts. */
import { statSync } from 'node:fs';
import { DroptraceError } from '../errors.js';
import { excerpt } from '../output/escape.js';

/** The largest pid the kernel hands out (PID_MAX_LIMIT, include/linux/threads.h: 4 Mi on 64-bit). */
const PID_MAX_LIMIT = 4 * 1024 * 1024;

/** The inode in a /proc/<pid>/ns/net link's text (`net:[4026531840]`); 0 for anything else. */
export function netnsInodeOfLink(link: string): number {
  return Number(/^net:\[(\d+)\]$/.exec(link)?.[1] ?? 0);
}

export function netnsOfPid(pid: string, stat: (path: string) => { ino: number } = statSync): number {
  if (!/^\d+$/.test(pid) || Number(pid) < 1 || Number(pid) > PID_MAX_LIMIT)
    throw new DroptraceError(
      'ERR_DROPTRACE_OPTION_VALUE',
      `bad --pid: "${excerpt(pid)}"`,
      `a process id is a whole number from 1 to ${PID_MAX_LIMIT}`,
    );
  try {
    return stat(`/proc/${pid}/ns/net`).ino;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // the process exists, but its namespace is not ours to read (ptrace access mode, fs/proc/namespaces.c)
    if (code === 'EACCES' || code === 'EPERM')
      throw new DroptraceError(
        'ERR_DROPTRACE_PID_ACCESS',
        `not permitted to read the network namespace of process ${pid} (${code})`,
        "reading another user's /proc/<pid>/ns/net takes root or CAP_SYS_PTRACE",
        { cause: e },
      );
    throw new DroptraceError('ERR_DROPTRACE_PID_UNKNOWN', `no such process: ${pid}`, 'check the pid with ps', { cause: e });
  }
}
