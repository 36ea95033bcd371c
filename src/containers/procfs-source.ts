/**
 * The universal fallback: every process's cgroup path says which container it is in, and
 * its /proc entry gives the netns and addresses. Works for any runtime, without any API,
 * but knows ids only: the name is the short id unless a better source supplies one.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ContainerRef, containerFromCgroupFile } from './cgroup-path.js';
import { addressesOf, cgroupIdOfPath, netnsOf, PROC, parentOf } from './proc.js';
import type { ContainerInfo, ContainerSource } from './types.js';

export interface ProcMember {
  pid: number;
  ref: ContainerRef;
  v2Path: string | null;
}

/** Groups processes by container; init is the member whose parent is outside the container, lowest pid on ties. */
export function groupByContainer(
  members: ProcMember[],
  parentOfPid: (pid: number) => number | null,
): Array<{ ref: ContainerRef; init: number; v2Path: string | null }> {
  const byId = new Map<string, ProcMember[]>();
  for (const m of members) {
    const list = byId.get(m.ref.id);
    if (list) list.push(m);
    else byId.set(m.ref.id, [m]);
  }
  const out: Array<{ ref: ContainerRef; init: number; v2Path: string | null }> = [];
  for (const list of byId.values()) {
    list.sort((a, b) => a.pid - b.pid);
    const pids = new Set(list.map((m) => m.pid));
    const init =
      list.find((m) => {
        const ppid = parentOfPid(m.pid);
        return ppid === null || !pids.has(ppid);
      }) ?? list[0];
    out.push({ ref: init.ref, init: init.pid, v2Path: init.v2Path });
  }
  return out;
}

export class ProcfsSource implements ContainerSource {
  readonly name = 'procfs';

  constructor(readonly procRoot = PROC) {}

  /** Every process that is in a container, with its container reference. */
  scan(): ProcMember[] {
    const out: ProcMember[] = [];
    for (const name of readdirSync(this.procRoot)) {
      const pid = Number(name);
      if (!Number.isInteger(pid) || pid <= 0) continue;
      let text: string;
      try {
        text = readFileSync(join(this.procRoot, name, 'cgroup'), 'utf8');
      } catch {
        continue; // exited meanwhile
      }
      const cg = containerFromCgroupFile(text);
      if (cg.container) out.push({ pid, ref: cg.container, v2Path: cg.v2Path });
    }
    return out;
  }

  async list(): Promise<ContainerInfo[]> {
    const groups = groupByContainer(this.scan(), (pid) => parentOf(pid, this.procRoot));
    const out: ContainerInfo[] = [];
    for (const g of groups) {
      const netns = netnsOf(g.init, this.procRoot);
      if (netns === null) continue;
      out.push({
        id: g.ref.id,
        name: g.ref.id.slice(0, 12),
        runtime: g.ref.runtime,
        image: null,
        pid: g.init,
        netns,
        cgroupId: g.v2Path ? cgroupIdOfPath(g.v2Path) : null,
        addresses: addressesOf(g.init, this.procRoot),
        running: true,
        ...(g.ref.pod_uid ? { pod_uid: g.ref.pod_uid } : {}),
      });
    }
    return out;
  }
}
