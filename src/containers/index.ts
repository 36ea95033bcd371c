/**
 * ContainerIndex: every source merged into one view, with the synchronous look-ups attribution
 * makes per event. Everything slow (API calls, procfs scans) happens in refresh(), which runs on
 * start, on runtime events, on a poll timer and, rate-limited, when a look-up misses.
 *
 * Netns inodes and addresses are reused after a container goes away, so a hit is trusted only
 * for `verifyMs` after it was last checked against the kernel (is the container's init still in
 * that namespace?); runtime events evict a container at once. Every namespace the index stops
 * vouching for is announced (`gone`), so that caches keyed by its inode can forget it.
 */
import { EventEmitter } from 'node:events';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { DroptraceError } from '../errors.js';
import { normalizeAddress } from './address.js';
import { type Attribution, type AttributionInput, attribute, type ContainerLookups } from './attribution.js';
import { findContainer, unknownContainer } from './names.js';
import { NETNS_DIR } from './netns-names.js';
import { netnsOf, hostNetns as readHostNetns } from './proc.js';
import { type ContainerChange, defaultSources, diffContainers, isEmptyChange, listAll, mergeSources } from './sources.js';
import type { ContainerInfo, ContainerSource, RuntimeChange } from './types.js';

export type { Attribution, AttributionInput } from './attribution.js';
export { CONTAINER_AMBIGUOUS, CONTAINER_UNKNOWN } from './names.js';
export { type ContainerChange, defaultSources } from './sources.js';
export type { ContainerInfo, ContainerSource, RuntimeChange } from './types.js';
export { toContainer } from './types.js';

export interface ContainerIndexOptions {
  /** In order of preference: the first source to name a container id wins, later ones fill gaps. */
  sources?: ContainerSource[];
  /** The host's netns inode: never a container's, and the only netns where address attribution applies. */
  hostNetns?: number | null;
  /** Is this container still in the namespace we think it is in? Default: ask /proc. */
  isAlive?: (info: ContainerInfo) => boolean;
  /** How long a verified hit is trusted (default 250 ms). */
  verifyMs?: number;
  /** Minimum spacing of refreshes caused by look-up misses (default 1000 ms). */
  refreshMinMs?: number;
  /** How long a key that missed does not cause another refresh (default 10 s). */
  negativeTtlMs?: number;
  /** Delay that coalesces runtime events (a restart is die + start) into one refresh (default 100 ms). */
  eventDebounceMs?: number;
  /** Full refresh period while started, for sources that cannot tell us about changes (default 5 s; 0: off). */
  pollMs?: number;
  now?: () => number;
}

interface Entry {
  info: ContainerInfo;
  checkedAt: number;
  evicted: boolean;
}

export function defaultIsAlive(info: ContainerInfo): boolean {
  if (info.netns === null) return false;
  if (info.pid !== null) return netnsOf(info.pid) === info.netns;
  if (info.runtime === 'netns') {
    try {
      return statSync(join(NETNS_DIR, info.name)).ino === info.netns;
    } catch {
      return false;
    }
  }
  return true;
}

export declare interface ContainerIndex {
  on(event: 'change', listener: (change: ContainerChange) => void): this;
  on(event: 'warning', listener: (err: DroptraceError) => void): this;
  /** A namespace the index no longer vouches for (its container stopped or left it): its inode may be reused. */
  on(event: 'gone', listener: (netns: number) => void): this;
  once(event: 'change', listener: (change: ContainerChange) => void): this;
  once(event: 'warning', listener: (err: DroptraceError) => void): this;
  off(event: 'change' | 'warning' | 'gone', listener: (...args: never[]) => void): this;
}

// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: typed events for an EventEmitter
export class ContainerIndex extends EventEmitter implements ContainerLookups {
  readonly sources: ContainerSource[];
  readonly hostNetns: number | null;
  /** The last error of each source that failed in the latest refresh. */
  readonly sourceErrors = new Map<string, DroptraceError>();
  /** How many refreshes have completed (tests and diagnostics). */
  refreshes = 0;

  private readonly isAlive: (info: ContainerInfo) => boolean;
  private readonly verifyMs: number;
  private readonly refreshMinMs: number;
  private readonly negativeTtlMs: number;
  private readonly eventDebounceMs: number;
  private readonly pollMs: number;
  private readonly now: () => number;

  private all: ContainerInfo[] = [];
  private byId = new Map<string, Entry>();
  private netnsMap = new Map<number, Entry>();
  private cgroupMap = new Map<bigint, Entry>();
  /** null marks an address two live containers claim: it names neither. */
  private addrMap = new Map<string, Entry | null>();
  private negative = new Map<string, number>();

  private loaded = false;
  private inflight: Promise<void> | null = null;
  private next: Promise<void> | null = null;
  private lastRefreshAt = Number.NEGATIVE_INFINITY;
  private missTimer: NodeJS.Timeout | null = null;
  private eventTimer: NodeJS.Timeout | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private stopWatchers: Array<() => void> = [];

  constructor(opts: ContainerIndexOptions = {}) {
    super();
    this.sources = opts.sources ?? defaultSources();
    this.hostNetns = opts.hostNetns !== undefined ? opts.hostNetns : readHostNetns();
    this.isAlive = opts.isAlive ?? defaultIsAlive;
    this.verifyMs = opts.verifyMs ?? 250;
    this.refreshMinMs = opts.refreshMinMs ?? 1000;
    this.negativeTtlMs = opts.negativeTtlMs ?? 10_000;
    this.eventDebounceMs = opts.eventDebounceMs ?? 100;
    this.pollMs = opts.pollMs ?? 5000;
    this.now = opts.now ?? (() => performance.now());
  }

  /** Loads every source and starts following runtime events. */
  async start(): Promise<void> {
    await this.refresh();
    for (const s of this.sources) {
      if (s.watch) this.stopWatchers.push(s.watch((c) => this.onRuntimeChange(c)));
    }
    if (this.pollMs > 0) {
      this.pollTimer = setInterval(() => void this.refresh(), this.pollMs);
      this.pollTimer.unref();
    }
  }

  stop(): void {
    for (const s of this.stopWatchers) s();
    this.stopWatchers = [];
    for (const t of [this.missTimer, this.eventTimer]) if (t) clearTimeout(t);
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.missTimer = this.eventTimer = this.pollTimer = null;
  }

  /** Everything the sources know, running or not. */
  list(): ContainerInfo[] {
    return [...this.all];
  }

  running(): ContainerInfo[] {
    return this.all.filter((c) => c.running);
  }

  /**
   * Reloads all sources. Concurrent callers share one load; a call made while a load runs gets
   * the one after it, so what it sees is never older than the call.
   */
  refresh(): Promise<void> {
    if (this.inflight) {
      this.next ??= this.inflight.then(() => {
        this.next = null;
        return this.refresh();
      });
      return this.next;
    }
    this.inflight = this.load().finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  byNetns(inode: number): ContainerInfo | null {
    const e = this.netnsMap.get(inode);
    if (e && this.check(e)) return e.info;
    if (inode !== this.hostNetns) this.miss(`n${inode}`);
    return null;
  }

  byCgroup(id: bigint): ContainerInfo | null {
    // cgroup ids are 64-bit and never reused, so a hit needs no re-check.
    const e = this.cgroupMap.get(id);
    if (e && !e.evicted) return e.info;
    this.miss(`c${id}`);
    return null;
  }

  /** Addresses change hands as soon as a container is gone; a miss says nothing, so it refreshes nothing. */
  byAddress(addr: string): ContainerInfo | null {
    let e = this.addrMap.get(addr);
    if (e === undefined && addr.includes(':')) {
      const n = normalizeAddress(addr);
      if (n !== null) e = this.addrMap.get(n);
    }
    return e && this.check(e) ? e.info : null;
  }

  /** Which container an event concerns (see attribution.ts for the order). */
  attribute(ev: AttributionInput): Attribution | null {
    return attribute(this, ev);
  }

  /** The container `spec` names (see names.ts), refreshing once when nothing matches. */
  async resolve(spec: string): Promise<ContainerInfo> {
    if (!this.loaded) await this.refresh();
    let hit = this.find(spec);
    if (!hit) {
      await this.refresh();
      hit = this.find(spec);
    }
    if (hit) return hit;
    throw unknownContainer(spec, this.all, [...this.sourceErrors.values()]);
  }

  /** Synchronous `resolve` over what the index holds now: null when nothing matches. */
  find(spec: string): ContainerInfo | null {
    return findContainer(this.all, spec);
  }

  private check(e: Entry): boolean {
    if (e.evicted) return false;
    const now = this.now();
    if (now - e.checkedAt < this.verifyMs) return true;
    if (this.isAlive(e.info)) {
      e.checkedAt = now;
      return true;
    }
    this.evict(e.info.id);
    this.requestRefresh();
    return false;
  }

  private miss(key: string): void {
    const now = this.now();
    const until = this.negative.get(key);
    if (until !== undefined && until > now) return;
    // Keys are attacker-influenced (any cgroup, any netns): keep the set bounded.
    if (this.negative.size >= 4096) this.negative.clear();
    this.negative.set(key, now + this.negativeTtlMs);
    this.requestRefresh();
  }

  private requestRefresh(): void {
    if (this.missTimer) return;
    const wait = this.lastRefreshAt + this.refreshMinMs - this.now();
    this.missTimer = setTimeout(
      () => {
        this.missTimer = null;
        void this.refresh();
      },
      Math.max(0, wait),
    );
    this.missTimer.unref();
  }

  private onRuntimeChange(change: RuntimeChange): void {
    if (change.id !== null && (change.action === 'die' || change.action === 'destroy')) this.evict(change.id);
    // A container that just started may own a netns or cgroup that missed a moment ago.
    this.negative.clear();
    if (this.eventTimer) clearTimeout(this.eventTimer);
    this.eventTimer = setTimeout(() => {
      this.eventTimer = null;
      void this.refresh();
    }, this.eventDebounceMs);
    this.eventTimer.unref();
  }

  private evict(id: string): void {
    const e = this.byId.get(id);
    if (!e || e.evicted) return;
    e.evicted = true;
    const info = e.info;
    if (info.netns !== null && this.netnsMap.get(info.netns) === e) {
      this.netnsMap.delete(info.netns);
      this.emit('gone', info.netns);
    }
    if (info.cgroupId !== null && this.cgroupMap.get(info.cgroupId) === e) this.cgroupMap.delete(info.cgroupId);
    for (const a of info.addresses) if (this.addrMap.get(a) === e) this.addrMap.delete(a);
  }

  private async load(): Promise<void> {
    const results = await listAll(this.sources);
    for (const { source, error } of results) {
      if (!error) {
        this.sourceErrors.delete(source.name);
        continue;
      }
      if (!this.sourceErrors.has(source.name)) this.emit('warning', error);
      this.sourceErrors.set(source.name, error);
    }
    this.install(mergeSources(results));
  }

  private install(next: ContainerInfo[]): void {
    const now = this.now();
    const byId = new Map<string, Entry>();
    const netnsMap = new Map<number, Entry>();
    const cgroupMap = new Map<bigint, Entry>();
    const addrMap = new Map<string, Entry | null>();
    for (const info of next) {
      const e: Entry = { info, checkedAt: now, evicted: false };
      byId.set(info.id, e);
      if (!info.running) continue;
      // Containers on the host network (or sharing another's netns) do not own a namespace;
      // the first source's container keeps one shared by several (a pod's containers).
      if (info.netns !== null && info.netns !== this.hostNetns && !netnsMap.has(info.netns)) netnsMap.set(info.netns, e);
      if (info.cgroupId !== null && !cgroupMap.has(info.cgroupId)) cgroupMap.set(info.cgroupId, e);
      for (const a of info.addresses) {
        const prev = addrMap.get(a);
        if (prev === undefined) addrMap.set(a, e);
        else if (prev !== null && prev.info.netns !== info.netns) addrMap.set(a, null);
      }
    }
    const change = diffContainers(this.all, next);
    // a namespace no container owns now, or one whose inode another container's namespace reuses
    const gone = [...this.netnsMap].filter(([n, e]) => netnsMap.get(n)?.info.id !== e.info.id).map(([n]) => n);
    this.all = next;
    this.byId = byId;
    this.netnsMap = netnsMap;
    this.cgroupMap = cgroupMap;
    this.addrMap = addrMap;
    this.loaded = true;
    this.refreshes++;
    this.lastRefreshAt = now;
    for (const n of gone) this.emit('gone', n);
    if (!isEmptyChange(change)) this.emit('change', change);
  }
}
