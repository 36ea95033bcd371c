/**
 * What a namespace file is, and which network namespaces exist. A number or a path given as
 * `--netns` must name a network namespace that exists now: an inode no namespace has, or the path
 * of a mount namespace, would load a filter that can never match and trace nothing, silently.
 */
import { lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, statfsSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** statfs f_type of nsfs (include/uapi/linux/magic.h NSFS_MAGIC). */
export const NSFS_MAGIC = 0x6e736673;

/** nsfs names its files "<type>:[<inode>]" (fs/nsfs.c ns_dname). */
const NS_NAME = /^([a-z_]+):\[(\d+)\]$/;

export interface NamespaceFile {
  /** net, mnt, pid, uts, ipc, user, cgroup, time; null when it cannot be told. */
  type: string | null;
  inode: number;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo (fs/proc_namespace.c, show_mountinfo). */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

/**
 * The namespace behind `path`, or undefined when it is no namespace file. /proc/<pid>/ns/* are
 * symlinks named by type; a bind mount (`ip netns add`, Docker's netns files) is told by the root
 * of its mount in /proc/self/mountinfo, which nsfs names the same way.
 */
export function namespaceFile(path: string, mountinfo = '/proc/self/mountinfo'): NamespaceFile | undefined {
  let inode: number;
  try {
    if (statfsSync(path).type !== NSFS_MAGIC) return undefined;
    inode = statSync(path).ino;
  } catch {
    return undefined;
  }
  try {
    if (lstatSync(path).isSymbolicLink()) {
      const m = NS_NAME.exec(readlinkSync(path));
      if (m && Number(m[2]) === inode) return { type: m[1], inode };
    }
  } catch {}
  try {
    const real = realpathSync(path);
    for (const line of readFileSync(mountinfo, 'utf8').split('\n')) {
      const f = line.split(' ');
      if (f.length < 5 || unescapeMount(f[4]) !== real) continue;
      const m = NS_NAME.exec(f[3]);
      if (m && Number(m[2]) === inode) return { type: m[1], inode };
    }
  } catch {}
  return { type: null, inode };
}

/** Inodes of the network namespaces that exist now: named ones (`ip netns`) and those of every process. */
export function liveNetnsInodes(runDir = '/run/netns', proc = '/proc'): Set<number> {
  const inodes = new Set<number>();
  try {
    for (const name of readdirSync(runDir)) {
      const ns = namespaceFile(join(runDir, name));
      if (ns && ns.type !== null && ns.type !== 'net') continue;
      if (ns) inodes.add(ns.inode);
    }
  } catch {}
  for (const pid of readdirSync(proc)) {
    if (pid.charCodeAt(0) > 0x39) continue; // not a pid
    try {
      const m = NS_NAME.exec(readlinkSync(`${proc}/${pid}/ns/net`));
      if (m) inodes.add(Number(m[2]));
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return inodes;
}
