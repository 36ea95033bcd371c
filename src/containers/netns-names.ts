/**
 * Plain network namespaces named by `ip netns add <name>` (bind mounts under /run/netns), and
 * `--netns <name|inode|path>` resolution for the CLI.
 */
import { readdirSync, statfsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DroptraceError } from '../errors.js';
import { liveNetnsInodes, NSFS_MAGIC, namespaceFile } from '../kernel/netns-identity.js';
import { excerpt, shortList } from '../output/escape.js';
import type { ContainerInfo, ContainerSource } from './types.js';

export const NETNS_DIR = '/run/netns';
export const NETNS_UNKNOWN = 'ERR_DROPTRACE_NETNS_UNKNOWN';
/** A namespace file of another kind (a mount or pid namespace). */
export const NETNS_TYPE = 'ERR_DROPTRACE_NETNS_TYPE';

export interface NamedNetns {
  name: string;
  inode: number;
}

export function listNetnsNames(dir = NETNS_DIR): NamedNetns[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: NamedNetns[] = [];
  for (const name of names.sort()) {
    try {
      // A name whose namespace was never mounted (a failed `ip netns add`) is an empty file.
      if (statfsSync(join(dir, name)).type !== NSFS_MAGIC) continue;
      out.push({ name, inode: statSync(join(dir, name)).ino });
    } catch {}
  }
  return out;
}

export class NetnsNamesSource implements ContainerSource {
  readonly name = 'netns';

  constructor(readonly dir = NETNS_DIR) {}

  async list(): Promise<ContainerInfo[]> {
    return listNetnsNames(this.dir).map((n) => ({
      id: n.name,
      name: n.name,
      runtime: 'netns',
      image: null,
      pid: null,
      netns: n.inode,
      cgroupId: null,
      addresses: [],
      running: true,
    }));
  }
}

export interface ResolvedNetns {
  inode: number;
  /** The `ip netns` name when there is one. */
  name: string | null;
  path: string | null;
}

/**
 * `--netns` accepts an `ip netns` name, an inode number (as droptrace prints it), or a path to
 * a namespace file (`/proc/<pid>/ns/net`, `/var/run/docker/netns/<id>`, …).
 */
export function resolveNetns(spec: string | number, dir = NETNS_DIR): ResolvedNetns {
  const named = () => listNetnsNames(dir);
  const hint = 'give an `ip netns` name, a netns inode (`droptrace containers` lists them), or a path such as /proc/<pid>/ns/net';
  if (typeof spec === 'number' || /^\d+$/.test(spec)) {
    const inode = Number(spec);
    // an inode no namespace has would load a filter that never matches: refused, not traced silently
    if (!Number.isSafeInteger(inode) || inode <= 0 || !liveNetnsInodes(dir).has(inode)) {
      throw new DroptraceError(NETNS_UNKNOWN, `no network namespace has inode ${excerpt(String(spec))}`, hint);
    }
    return { inode, name: named().find((n) => n.inode === inode)?.name ?? null, path: null };
  }
  const path = spec.includes('/') ? spec : join(dir, spec);
  const ns = namespaceFile(path);
  if (!ns) {
    const known = named().map((n) => n.name);
    throw new DroptraceError(
      NETNS_UNKNOWN,
      `no network namespace "${excerpt(spec)}"${spec.includes('/') ? '' : `; named ones: ${shortList(known.map((n) => excerpt(n, 32))) || 'none'}`}`,
      hint,
    );
  }
  if (ns.type !== 'net' && !(ns.type === null && liveNetnsInodes(dir).has(ns.inode))) {
    throw new DroptraceError(
      NETNS_TYPE,
      `${excerpt(path)} is ${ns.type ? `a ${ns.type} namespace` : 'a namespace of unknown type'}, not a network namespace`,
      'give /proc/<pid>/ns/net (not ns/mnt, ns/pid, …) or an `ip netns` name',
    );
  }
  return { inode: ns.inode, name: spec.includes('/') ? (named().find((n) => n.inode === ns.inode)?.name ?? null) : spec, path };
}
