/**
 * net.ipv4.ip_local_port_range of a namespace, for the hint of a connect() that found no free local
 * port (it applies to IPv6 too). Read inside the namespace (sysctls answer for the reader's own), at
 * most once per namespace every few seconds, synchronously: such failures come from a process in a
 * loop, not from a packet storm, and the first one's hint should already carry the range.
 */
import { execFileSync } from 'node:child_process';

const TTL_MS = 5000;

export type PortRange = [number, number];

/** "32768\t60999\n" → [32768, 60999]; null for anything else. */
export function parsePortRange(text: string): PortRange | null {
  const m = /^\s*(\d{1,5})\s+(\d{1,5})\s*$/.exec(text);
  if (!m) return null;
  const lo = Number(m[1]);
  const hi = Number(m[2]);
  return lo >= 1 && hi <= 65535 && lo <= hi ? [lo, hi] : null;
}

export class PortRanges {
  private readonly cache = new Map<number, { range: PortRange | null; at: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * The range of `netns`, entered through the first of `netnsPaths` that works (/proc/<pid>/ns/net
   * of the caller first: the caller may exit before its failure reaches us, so another way in, the
   * namespace's name or another of its processes, comes after).
   */
  of(netns: number, netnsPaths: readonly (string | undefined)[]): PortRange | null {
    const hit = this.cache.get(netns);
    if (hit && this.now() - hit.at < TTL_MS) return hit.range;
    let range: PortRange | null = null;
    for (const path of netnsPaths) {
      if (path === undefined) continue;
      try {
        range = parsePortRange(
          execFileSync('nsenter', [`--net=${path}`, '--', 'cat', '/proc/sys/net/ipv4/ip_local_port_range'], {
            encoding: 'utf8',
            timeout: 2000,
            stdio: ['ignore', 'pipe', 'ignore'],
          }),
        );
        break;
      } catch {
        // the process exited and took that way in with it, or no nsenter: the next, or the hint goes without
      }
    }
    this.cache.set(netns, { range, at: this.now() });
    return range;
  }

  forget(netns: number): void {
    this.cache.delete(netns);
  }
}
