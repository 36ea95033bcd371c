/**
 * The few facts about a process that attribution needs, read from procfs: its netns inode,
 * its cgroup v2 id, the addresses of its namespace. Every reader returns null when the process
 * has gone (a race that is normal: containers stop while we look).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Cgroup2Mount,
  cgroup2MountFromMountinfo,
  cgroup2MountsFromMountinfo,
  cgroupDirUnder,
  cgroupSegments,
  containerFromCgroupFile,
  type ProcessCgroup,
} from './cgroup-path.js';
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

interface CgroupViews {
  own: Cgroup2Mount[];
  /** The host's cgroup2 mount through init's root, and our namespace's root as a path in it. */
  host: { mount: Cgroup2Mount; ourRoot: string[] } | null;
}

let views: CgroupViews | undefined;

/** Our namespace's root cgroup among the host's: the directory at `depth` below `dir` whose inode is `ino`. */
function findCgroup(dir: string, depth: number, ino: bigint): string[] | null {
  if (depth === 0) {
    try {
      return statSync(dir, { bigint: true }).ino === ino ? [] : null;
    } catch {
      return null;
    }
  }
  let names: string[];
  try {
    names = readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch {
    return null;
  }
  for (const n of names) {
    const hit = findCgroup(join(dir, n), depth - 1, ino);
    if (hit) return [n, ...hit];
  }
  return null;
}

/**
 * Where cgroup paths can be looked up: our own cgroup2 mounts, and, when our cgroup namespace is
 * not the host's (a container on cgroup v2), the host's mount seen through the root of a process
 * outside it (/proc/<pid>/root, with the host's PID namespace): the only one that reaches other
 * pods' cgroups. Init is asked first; where its root is closed to us, our parent (the runtime's
 * shim, for an agent in a pod). Read once.
 */
function cgroupViews(procRoot = PROC): CgroupViews {
  if (views !== undefined) return views;
  const own = cgroup2MountsFromMountinfo(readOrNull(join(procRoot, 'self', 'mountinfo')) ?? '');
  views = { own, host: null };
  const ownRoot = own.find((m) => cgroupSegments(m.root).length === 0);
  if (!ownRoot) return views;
  let ourIno: bigint;
  try {
    ourIno = statSync(ownRoot.mountPoint, { bigint: true }).ino;
  } catch {
    return views;
  }
  for (const ref of [1, process.ppid]) {
    const hostMount = cgroup2MountsFromMountinfo(readOrNull(join(procRoot, String(ref), 'mountinfo')) ?? '')[0];
    if (!hostMount) continue;
    // the host's root as we see it: `/` when we share its namespace, `/../..` two levels above ours
    const up = cgroupSegments(hostMount.root);
    if (up.length === 0 || up.some((s) => s !== '..')) continue;
    const mount = { mountPoint: join(procRoot, String(ref), 'root', hostMount.mountPoint), root: '/' };
    const ourRoot = findCgroup(mount.mountPoint, up.length, ourIno);
    if (ourRoot) {
      views.host = { mount, ourRoot };
      break;
    }
  }
  return views;
}

/**
 * cgroup v2 id of a cgroup path (as /proc/<pid>/cgroup shows it to us): the inode of its
 * directory, which is what the kernel's kn->id holds. Null when no mount reaches it.
 */
export function cgroupIdOfPath(v2Path: string, v: CgroupViews = cgroupViews()): bigint | null {
  const dirs = v.own.map((m) => cgroupDirUnder(m, v2Path));
  if (v.host) dirs.push(cgroupDirUnder(v.host.mount, `/${[...v.host.ourRoot, ...cgroupSegments(v2Path)].join('/')}`));
  for (const dir of dirs) {
    if (dir === null) continue;
    try {
      return statSync(dir, { bigint: true }).ino;
    } catch {}
  }
  return null;
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
