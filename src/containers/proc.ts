/**
 * The few facts about a process that attribution needs, read from procfs: its netns inode,
 * its cgroup v2 id, the addresses of its namespace. Every reader returns null when the process
 * has gone (a race that is normal: containers stop while we look).
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cgroup2MountFromMountinfo, containerFromCgroupFile, type ProcessCgroup } from './cgroup-path.js';
import { parseFibTrieLocal, parseIfInet6 } from './netns-addresses.js';

export const PROC = '/proc';

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

export function netnsOf(pid: number, procRoot = PROC): number | null {
  try {
    return statSync(join(procRoot, String(pid), 'ns', 'net')).ino;
  } catch {
    return null;
  }
}

/**
 * The netns of the host: the one init (pid 1 of our pid namespace) lives in. Where /proc/1/ns is
 * closed to us (a sandboxed root may not pass the ptrace check on init), our own is the best guess.
 */
export function hostNetns(procRoot = PROC): number | null {
  return netnsOf(1, procRoot) ?? selfNetns(procRoot);
}

function selfNetns(procRoot: string): number | null {
  try {
    return statSync(join(procRoot, 'self', 'ns', 'net')).ino;
  } catch {
    return null;
  }
}

export function processCgroup(pid: number, procRoot = PROC): ProcessCgroup | null {
  const text = readOrNull(join(procRoot, String(pid), 'cgroup'));
  return text === null ? null : containerFromCgroupFile(text);
}

let cgroup2Root: string | null | undefined;

/** Where cgroup2 is mounted: /sys/fs/cgroup on pure v2, /sys/fs/cgroup/unified on hybrid systems. */
export function cgroup2Mount(): string | null {
  if (cgroup2Root === undefined) {
    const text = readOrNull('/proc/self/mountinfo');
    cgroup2Root = text === null ? null : cgroup2MountFromMountinfo(text);
  }
  return cgroup2Root;
}

/** cgroup v2 id of a cgroup path: the inode of its directory, which is what the kernel's kn->id holds. */
export function cgroupIdOfPath(v2Path: string, mount = cgroup2Mount()): bigint | null {
  // a path above our own cgroup namespace's root (`/../…`, read from inside a container with a
  // private cgroup namespace) has no directory under our mount: no id rather than a wrong one
  if (mount === null || v2Path.split('/').includes('..')) return null;
  try {
    return statSync(join(mount, v2Path), { bigint: true }).ino;
  } catch {
    return null;
  }
}

export function cgroupIdOf(pid: number, procRoot = PROC): bigint | null {
  const cg = processCgroup(pid, procRoot);
  return cg?.v2Path ? cgroupIdOfPath(cg.v2Path) : null;
}

/** IPv4 and IPv6 addresses of the namespace <pid> lives in. */
export function addressesOf(pid: number, procRoot = PROC): string[] {
  const v4 = readOrNull(join(procRoot, String(pid), 'net', 'fib_trie'));
  const v6 = readOrNull(join(procRoot, String(pid), 'net', 'if_inet6'));
  return [...(v4 ? parseFibTrieLocal(v4) : []), ...(v6 ? parseIfInet6(v6) : [])];
}

/** Parent pid from `/proc/<pid>/stat` (the comm field may hold spaces and parentheses). */
export function parentOf(pid: number, procRoot = PROC): number | null {
  const text = readOrNull(join(procRoot, String(pid), 'stat'));
  if (text === null) return null;
  const after = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const ppid = Number(after[1]);
  return Number.isInteger(ppid) ? ppid : null;
}
