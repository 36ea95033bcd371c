/** `--pid`: a process's network namespace. Names and paths are resolved by containers/netns-names.ts. */
import { statSync } from 'node:fs';
import { DroptraceError } from '../errors.js';
import { excerpt } from '../output/escape.js';

export function netnsOfPid(pid: string): number {
  if (!/^\d+$/.test(pid)) throw new DroptraceError('ERR_DROPTRACE_OPTION', `bad --pid: ${excerpt(pid)}`, 'a process id is a whole number');
  try {
    return statSync(`/proc/${pid}/ns/net`).ino;
  } catch (e) {
    throw new DroptraceError('ERR_DROPTRACE_PID_UNKNOWN', `no such process: ${excerpt(pid)}`, 'check the pid with ps', { cause: e });
  }
}
