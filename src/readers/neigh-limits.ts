/**
 * The neighbour tables' limit, gc_thresh3, for the hint of a neighbour entry that could not be
 * made, where the kernel's event does not carry it (the classic neigh_create tracepoint has the
 * table's entries, not its limit). It is one setting per table for the whole host, under
 * `default` in the host's namespace (the one droptrace runs in), read at most once a second: the
 * value when the drop was explained, not necessarily when it happened.
 */
import { readFileSync } from 'node:fs';

const TTL_MS = 1000;

export class NeighLimits {
  private readonly cache = new Map<'ipv4' | 'ipv6', { limit: number | undefined; at: number }>();

  constructor(
    private readonly procSys = '/proc/sys',
    private readonly now: () => number = Date.now,
  ) {}

  gcThresh3(family: 'ipv4' | 'ipv6'): number | undefined {
    const hit = this.cache.get(family);
    if (hit && this.now() - hit.at < TTL_MS) return hit.limit;
    let limit: number | undefined;
    try {
      const n = Number(readFileSync(`${this.procSys}/net/${family}/neigh/default/gc_thresh3`, 'utf8').trim());
      if (Number.isInteger(n) && n > 0) limit = n;
    } catch {
      // not the host's namespace (the defaults live only there): the hint goes without the limit
    }
    this.cache.set(family, { limit, at: this.now() });
    return limit;
  }
}
