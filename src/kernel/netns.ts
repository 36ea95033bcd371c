/** Network namespaces as users name them: `ip netns` names, inode numbers, paths, or a process. */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DroptraceError } from '../errors.js';

export const NETNS_RUN_DIR = '/run/netns';

function inodeOf(path: string): number | undefined {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
}

/** `ip netns` names by inode. */
export function netnsNames(dir = NETNS_RUN_DIR): Map<number, string> {
  const names = new Map<number, string>();
  let entries: string[] = [];
  try {
    entries = readdirSync(dir);
  } catch {
    return names;
  }
  for (const name of entries) {
    const ino = inodeOf(join(dir, name));
    if (ino !== undefined) names.set(ino, name);
  }
  return names;
}

/** `--netns` takes an `ip netns` name, an inode number, or a path to a namespace file. */
export function resolveNetns(spec: string, dir = NETNS_RUN_DIR): number {
  if (/^\d+$/.test(spec)) return Number(spec);
  const path = spec.includes('/') ? spec : join(dir, spec);
  const ino = inodeOf(path);
  if (ino !== undefined) return ino;
  const known = [...netnsNames(dir).values()];
  throw new DroptraceError(
    'ERR_DROPTRACE_NETNS_UNKNOWN',
    `unknown network namespace: ${spec}`,
    known.length
      ? `known names (ip netns list): ${known.slice(0, 20).join(', ')}`
      : 'give an `ip netns` name, an inode number or a path such as /proc/<pid>/ns/net',
  );
}

/** `--pid`: the network namespace that process is in. */
export function netnsOfPid(pid: string): number {
  if (!/^\d+$/.test(pid)) throw new DroptraceError('ERR_DROPTRACE_OPTION', `bad --pid: ${pid}`, 'a process id is a whole number');
  const ino = inodeOf(`/proc/${pid}/ns/net`);
  if (ino === undefined) throw new DroptraceError('ERR_DROPTRACE_PID_UNKNOWN', `no such process: ${pid}`, 'check the pid with ps');
  return ino;
}
