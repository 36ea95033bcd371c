/**
 * User-space evidence for conntrack-full drops: the namespace's connection count and the limit.
 * Read through /proc/sys/net/netfilter inside the namespace (net sysctls answer for the reader's
 * namespace); the files exist only while nf_conntrack is loaded, and then there is nothing to say.
 */
import { type CommandResult, type NetnsRunner, nsenterRunner } from './netns-exec.js';
import { RefreshCache } from './refresh-cache.js';

export interface ConntrackStats {
  count: number;
  max: number;
}

/** What `cat` prints the count and the limit from (the ruleset reads ask for them too: src/readers/netfilter-rules.ts). */
export const CONNTRACK_FILES = ['/proc/sys/net/netfilter/nf_conntrack_count', '/proc/sys/net/netfilter/nf_conntrack_max'];

/** Parses the output of `cat nf_conntrack_count nf_conntrack_max`; null when not both numbers. */
export function parseConntrackStats(text: string): ConntrackStats | null {
  const [count, max] = text.trim().split(/\s+/).map(Number);
  if (count === undefined || max === undefined || !Number.isInteger(count) || !Number.isInteger(max)) return null;
  return { count, max };
}

/** What `cat` of CONNTRACK_FILES says: null when it failed (conntrack not loaded) or said something else. */
export function conntrackOf(res: CommandResult): ConntrackStats | null {
  return res.code === 0 ? parseConntrackStats(res.stdout) : null;
}

export async function readConntrackStats(netnsPath: string, run: NetnsRunner = nsenterRunner): Promise<ConntrackStats | null> {
  return conntrackOf(await run(netnsPath, ['cat', ...CONNTRACK_FILES]));
}

export interface ConntrackEvidenceOptions {
  run?: NetnsRunner;
  minIntervalMs?: number;
  now?: () => number;
}

/**
 * Per-namespace conntrack count/max, cached and refreshed at most once per interval (2 s: longer
 * than a storm's gap between ruleset reads, which bring it too, so a storm reads it in their
 * process rather than in one of its own).
 */
export class ConntrackEvidence {
  private readonly cache: RefreshCache<ConntrackStats | null>;

  constructor(opts: ConntrackEvidenceOptions = {}) {
    const run = opts.run ?? nsenterRunner;
    this.cache = new RefreshCache((ns) => readConntrackStats(ns, run), opts.minIntervalMs ?? 2000, opts.now);
  }

  /** Never waits; undefined until the first read is done, null when conntrack is not loaded. */
  current(netnsPath: string): ConntrackStats | null | undefined {
    return this.cache.current(netnsPath);
  }

  /** A count and limit another read brought (null: conntrack is not loaded there). */
  offer(netnsPath: string, stats: ConntrackStats | null): void {
    this.cache.set(netnsPath, stats);
  }

  lookup(netnsPath: string): Promise<ConntrackStats | null> {
    return this.cache.get(netnsPath);
  }

  forget(netnsPath: string): void {
    this.cache.forget(netnsPath);
  }
}
