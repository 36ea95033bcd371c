/**
 * The namespaces a user named (`--netns`, `--pid`) while they are traced. The kernel filters by
 * netns inode, and the kernel hands a freed inode to the next namespace made (the nsfs inode
 * numbers come from an IDA, fs/nsfs.c / kernel/nscommon.c): after `ip netns del x; ip netns add y`
 * the filter would trace y as if it were x. So each named namespace is checked once a second; one
 * that no longer exists (its name gone or pointing elsewhere, and no process in it) is reported
 * and taken out of the filter, and a namespace that later gets the same inode is not traced.
 * A followed container's new incarnation is the follower's business (containers/follow.ts).
 */
import { statSync } from 'node:fs';
import { liveNetnsInodes } from './netns-identity.js';

export interface WatchedNetns {
  inode: number;
  /** The `ip netns` name when there is one. */
  name: string | null;
  /** The file it was named by (`/run/netns/<name>`, `/proc/<pid>/ns/net`), when there is one. */
  path: string | null;
}

const CHECK_MS = 1000;

export class NetnsWatch {
  private timer: NodeJS.Timeout | undefined;
  private readonly live = new Map<number, WatchedNetns>();

  constructor(
    watched: readonly WatchedNetns[],
    private readonly onGone: (gone: WatchedNetns) => void,
  ) {
    for (const ns of watched) this.live.set(ns.inode, ns);
  }

  /** Inodes still traced. */
  inodes(): number[] {
    return [...this.live.keys()];
  }

  start(): void {
    if (this.timer || this.live.size === 0) return;
    this.timer = setInterval(() => this.check(), CHECK_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One round: each namespace that went away is forgotten and reported, once. */
  check(): void {
    let inodes: Set<number> | undefined;
    for (const ns of [...this.live.values()]) {
      if (this.stillNamed(ns)) continue;
      // unnamed (or never named): gone only if no process is in it either
      inodes ??= liveNetnsInodes();
      if (inodes.has(ns.inode)) continue;
      this.live.delete(ns.inode);
      this.onGone(ns);
    }
    if (this.live.size === 0) this.stop();
  }

  private stillNamed(ns: WatchedNetns): boolean {
    if (ns.path === null) return false;
    try {
      return statSync(ns.path).ino === ns.inode;
    } catch {
      return false;
    }
  }
}
