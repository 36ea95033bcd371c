/**
 * User-space evidence for conntrack-full drops: the namespace's connection count and the limit.
 * Read through /proc/sys/net/netfilter inside the namespace (net sysctls answer for the reader's
 * namespace); the files exist only while nf_conntrack is loaded, and then there is nothing to say.
 */
import { type NetnsRunner, nsenterRunner } from './netns-exec.js';
import { RefreshCache } from './refresh-cache.js';

export interface ConntrackStats {
  count: number;
  max: number;
}

const FILES = ['/proc/sys/net/netfilter/nf_conntrack_count', '/proc/sys/net/netfilter/nf_conntrack_max'];

/** Parses the output of `cat nf_conntrack_count nf_conntrack_max`; null when not both numbers. */
export function parseConntrackStats(text: string): ConntrackStats | null {
  const [count, max] = text.trim().split(/\s+/).map(Number);
  if (count === undefined || max === undefined || !Number.isInteger(count) || !Number.isInteger(max)) return null;
  return { count, max };
}

export async function readConntrackStats(netnsPath: string, run: NetnsRunner = nsenterRunner): Promise<ConntrackStats | null> {
  const res = await run(netnsPath, ['cat', ...FILES]);
  return res.code === 0 ? parseConntrackStats(res.stdout) : null;
}

export interface ConntrackEvidenceOptions {
  run?: NetnsRunner;
  minIntervalMs?: number;
  now?: () => number;
}

/** Per-namespace conntrack count/max, cached and refreshed at most once per interval. */
export class ConntrackEvidence {
  private readonly cache: RefreshCache<ConntrackStats | null>;

  constructor(opts: ConntrackEvidenceOptions = {}) {
    const run = opts.run ?? nsenterRunner;
    this.cache = new RefreshCache((ns) => readConntrackStats(ns, run), opts.minIntervalMs ?? 1000, opts.now);
  }

  /** Never waits; undefined until the first read is done, null when conntrack is not loaded. */
  current(netnsPath: string): ConntrackStats | null | undefined {
    return this.cache.current(netnsPath);
  }

  lookup(netnsPath: string): Promise<ConntrackStats | null> {
    return this.cache.get(netnsPath);
  }

  forget(netnsPath: string): void {
    this.cache.forget(netnsPath);
  }
}
