/**
 * A path to enter a network namespace known only by its inode (for user-space evidence such as the
 * ruleset): an `ip netns` name, else any process living in it. Misses rescan at most once a second.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { listNetnsNames, NETNS_DIR } from '../containers/netns-names.js';
import { netnsInodeOfLink } from './netns.js';

const RESCAN_MS = 1000;

export class NetnsPaths {
  private paths = new Map<number, string>();
  /** A process living in each namespace, from the last scan (an `ip netns` name may have none). */
  private pids = new Map<number, string>();
  private scannedAt = -Infinity;

  constructor(
    private readonly runDir = NETNS_DIR,
    private readonly now: () => number = Date.now,
    private readonly procDir = '/proc',
  ) {}

  /** How to enter the namespace; a miss rescans (at most once a second) unless `rescan` is false. */
  pathOf(inode: number, { rescan = true } = {}): string | undefined {
    const known = this.paths.get(inode);
    if (known !== undefined || !rescan) return known;
    if (this.now() - this.scannedAt < RESCAN_MS) return undefined;
    this.rescan();
    return this.paths.get(inode);
  }

  /** Every namespace that can be entered now, by inode (rescans). */
  all(): ReadonlyMap<number, string> {
    this.rescan();
    return this.paths;
  }

  /** A process living in the namespace at the last scan, or undefined (none, or not scanned since `maxAgeMs`). */
  pidOf(inode: number, maxAgeMs: number): string | undefined {
    if (this.now() - this.scannedAt >= maxAgeMs) this.rescan();
    return this.pids.get(inode);
  }

  /** Every namespace seen at the last scan, rescanning when it is older than `maxAgeMs`. */
  inodes(maxAgeMs: number): number[] {
    if (this.now() - this.scannedAt >= maxAgeMs) this.rescan();
    return [...this.paths.keys()];
  }

  /** The namespace went away (its inode may be reused): forget how to enter it. */
  forget(inode: number): void {
    this.paths.delete(inode);
    this.pids.delete(inode);
  }

  private rescan(): void {
    this.scannedAt = this.now();
    const paths = new Map<number, string>();
    const pids = new Map<number, string>();
    for (const { name, inode } of listNetnsNames(this.runDir)) paths.set(inode, `${this.runDir}/${name}`);
    for (const pid of readdirSync(this.procDir)) {
      if (pid.charCodeAt(0) > 0x39) continue; // not a pid
      try {
        const ino = netnsInodeOfLink(readlinkSync(`${this.procDir}/${pid}/ns/net`));
        if (!ino || pids.has(ino)) continue;
        pids.set(ino, pid);
        if (!paths.has(ino)) paths.set(ino, `${this.procDir}/${pid}/ns/net`);
      } catch {
        // the process exited meanwhile
      }
    }
    this.paths = paths;
    this.pids = pids;
  }
}
