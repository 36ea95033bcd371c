/**
 * ContainerIndex: every source merged into one view, and the per-event look-ups that name the
 * container a drop concerns. Look-ups are synchronous map reads; everything slow (API calls,
 * procfs scans) happens in refresh(), which runs on start, on runtime events, on a poll timer
 * and, rate-limited, when a look-up misses.
 *
 * Netns inodes and addresses are reused after a container goes away, so a hit is trusted only
 * for `verifyMs` after it was last checked against the kernel (is the container's init still in
 * that namespace?); runtime events evict a container at once.
 */
import { EventEmitter } from 'node:events';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { DroptraceError } from '../errors.js';
import type { ContainerVia } from '../events.js';
import { normalizeAddress } from './address.js';
import { DockerApi } from './docker-api.js';
import { DockerResolver } from './docker-resolver.js';
import { NETNS_DIR, NetnsNamesResolver } from './netns-names.js';
import { netnsOf, hostNetns as readHostNetns } from './proc.js';
import { ProcfsResolver } from './procfs-resolver.js';
import type { ContainerInfo, Resolver, RuntimeChange } from './types.js';

export type { ContainerInfo, Resolver, RuntimeChange } from './types.js';
export { toContainer } from './types.js';

export const CONTAINER_UNKNOWN = 'ERR_DROPTRACE_CONTAINER_UNKNOWN';
export const CONTAINER_AMBIGUOUS = 'ERR_DROPTRACE_CONTAINER_AMBIGUOUS';

/** The event fields attribution reads (a DropRecord or RetransmitRecord has them all). */
export interface AttributionInput {
  netns: number;
  cgroup_id: string | bigint | null;
  peer?: { netns: number } | null;
  saddr: string | null;
  daddr: string | null;
}

export interface Attribution {
  container: ContainerInfo;
  via: ContainerVia;
}

export interface ContainerChange {
  added: ContainerInfo[];
  removed: ContainerInfo[];
  /** Same container id, new incarnation or new facts (restart: new pid, netns, maybe address). */
  changed: Array<{ before: ContainerInfo; after: ContainerInfo }>;
}

export interface ContainerIndexOptions {
  /** In order of preference: the first source to name a container id wins, later ones fill gaps. */
  sources?: Resolver[];
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

/** Resolver for a source that could not even be configured, so its error shows where the others' do. */
function failing(source: string, err: DroptraceError): Resolver {
  return {
    source,
    list: () => Promise.reject(err),
  };
}

/** Docker API (DOCKER_HOST or the default socket), podman's socket when present, procfs, `ip netns` names. */
export function defaultSources(env: NodeJS.ProcessEnv = process.env): Resolver[] {
  const out: Resolver[] = [];
  try {
    out.push(new DockerResolver(DockerApi.fromEnv(env)));
  } catch (e) {
    out.push(failing('docker', e as DroptraceError));
  }
  const podman = DockerApi.podman();
  if (podman) out.push(new DockerResolver(podman));
  out.push(new ProcfsResolver(), new NetnsNamesResolver());
  return out;
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

function sameFacts(a: ContainerInfo, b: ContainerInfo): boolean {
  return (
    a.pid === b.pid &&
    a.netns === b.netns &&
    a.cgroupId === b.cgroupId &&
    a.name === b.name &&
    a.addresses.length === b.addresses.length &&
    a.addresses.every((x, i) => x === b.addresses[i])
  );
}

export declare interface ContainerIndex {
  on(event: 'change', listener: (change: ContainerChange) => void): this;
  on(event: 'warning', listener: (err: DroptraceError) => void): this;
  once(event: 'change', listener: (change: ContainerChange) => void): this;
  once(event: 'warning', listener: (err: DroptraceError) => void): this;
  off(event: 'change' | 'warning', listener: (...args: never[]) => void): this;
}

// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: typed events for an EventEmitter
export class ContainerIndex extends EventEmitter {
  readonly sources: Resolver[];
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

  /** Which container a drop concerns, in the order of issue 3: netns, cgroup, veth peer, address. */
  attribute(ev: AttributionInput): Attribution | null {
    let c = this.byNetns(ev.netns);
    if (c) return { container: c, via: 'netns' };
    if (ev.cgroup_id !== null && ev.cgroup_id !== undefined) {
      let id: bigint | null = null;
      try {
        id = typeof ev.cgroup_id === 'bigint' ? ev.cgroup_id : BigInt(ev.cgroup_id);
      } catch {}
      if (id !== null && id > 0n) {
        c = this.byCgroup(id);
        if (c) return { container: c, via: 'cgroup' };
      }
    }
    // A plain `ip netns` namespace at the other end of the veth (a client joined to the host) is
    // only a fallback: a container the packet is addressed to or from says more.
    let plainPeer: ContainerInfo | null = null;
    if (ev.peer) {
      c = this.byNetns(ev.peer.netns);
      if (c && c.runtime !== 'netns') return { container: c, via: 'veth-peer' };
      plainPeer = c;
    }
    // Only the host's bridge, FORWARD chain and DNAT see a container's traffic by address alone;
    // in any other namespace an address match would be a coincidence of private ranges.
    if (ev.netns === this.hostNetns) {
      for (const a of [ev.daddr, ev.saddr]) {
        if (a === null) continue;
        c = this.byAddress(a);
        if (c) return { container: c, via: 'address' };
      }
    }
    return plainPeer ? { container: plainPeer, via: 'veth-peer' } : null;
  }

  /**
   * The container named `spec`: exact name, full id, or unique id prefix; running containers
   * win over stopped ones of the same name. Plain `ip netns` namespaces are not containers here.
   */
  async resolve(spec: string): Promise<ContainerInfo> {
    if (!this.loaded) await this.refresh();
    let hit = this.find(spec);
    if (!hit) {
      await this.refresh();
      hit = this.find(spec);
    }
    if (hit) return hit;
    const running = this.running().filter((c) => c.runtime !== 'netns');
    const list = running.map((c) => `${c.name} (${c.runtime} ${c.id.slice(0, 12)})`).join(', ');
    const failing = [...this.sourceErrors.values()].map((e) => e.message);
    throw new DroptraceError(
      CONTAINER_UNKNOWN,
      `no container named or with id "${spec}"; running: ${list || 'none'}` +
        (failing.length ? `; sources that failed: ${failing.join('; ')}` : ''),
      '`droptrace containers` lists the containers droptrace sees',
    );
  }

  /** Synchronous `resolve` over what the index holds now: null when nothing matches. */
  find(spec: string): ContainerInfo | null {
    const candidates = this.all.filter((c) => c.runtime !== 'netns');
    const pick = (list: ContainerInfo[]): ContainerInfo | null => {
      if (list.length === 0) return null;
      const live = list.filter((c) => c.running);
      const pool = live.length ? live : list;
      if (pool.length > 1) {
        throw new DroptraceError(
          CONTAINER_AMBIGUOUS,
          `"${spec}" matches ${pool.length} containers: ${pool.map((c) => `${c.name} (${c.runtime} ${c.id.slice(0, 12)})`).join(', ')}`,
          'give a longer id',
        );
      }
      return pool[0];
    };
    return (
      pick(candidates.filter((c) => c.name === spec)) ??
      pick(candidates.filter((c) => c.id === spec)) ??
      (/^[0-9a-f]+$/.test(spec) ? pick(candidates.filter((c) => c.id.startsWith(spec))) : null)
    );
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
    if (info.netns !== null && this.netnsMap.get(info.netns) === e) this.netnsMap.delete(info.netns);
    if (info.cgroupId !== null && this.cgroupMap.get(info.cgroupId) === e) this.cgroupMap.delete(info.cgroupId);
    for (const a of info.addresses) if (this.addrMap.get(a) === e) this.addrMap.delete(a);
  }

  private async load(): Promise<void> {
    const results = await Promise.all(
      this.sources.map((s) =>
        s.list().then(
          (list) => ({ s, list, err: null }),
          (err: unknown) => ({ s, list: [] as ContainerInfo[], err }),
        ),
      ),
    );
    const merged = new Map<string, ContainerInfo>();
    for (const { s, list, err } of results) {
      if (err) {
        const e =
          err instanceof DroptraceError
            ? err
            : new DroptraceError('ERR_DROPTRACE_CONTAINER_SOURCE', `${s.source}: ${String(err)}`, undefined, {
                cause: err,
              });
        if (!this.sourceErrors.has(s.source)) this.emit('warning', e);
        this.sourceErrors.set(s.source, e);
        continue;
      }
      this.sourceErrors.delete(s.source);
      for (const info of list) {
        const have = merged.get(info.id);
        if (!have) {
          merged.set(info.id, { ...info, addresses: [...info.addresses] });
          continue;
        }
        // A preferred source's answer stands; a later one only fills what it left empty.
        if (have.running && info.running) {
          have.netns ??= info.netns;
          have.cgroupId ??= info.cgroupId;
          have.pid ??= info.pid;
          if (have.addresses.length === 0) have.addresses = [...info.addresses];
          if (have.podUid === undefined && info.podUid !== undefined) have.podUid = info.podUid;
        }
      }
    }
    this.install([...merged.values()]);
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
    const before = new Map(this.all.filter((c) => c.running).map((c) => [c.id, c]));
    const after = new Map(next.filter((c) => c.running).map((c) => [c.id, c]));
    const change: ContainerChange = { added: [], removed: [], changed: [] };
    for (const [id, c] of after) {
      const b = before.get(id);
      if (!b) change.added.push(c);
      else if (!sameFacts(b, c)) change.changed.push({ before: b, after: c });
    }
    for (const [id, c] of before) if (!after.has(id)) change.removed.push(c);

    this.all = next;
    this.byId = byId;
    this.netnsMap = netnsMap;
    this.cgroupMap = cgroupMap;
    this.addrMap = addrMap;
    this.loaded = true;
    this.refreshes++;
    this.lastRefreshAt = now;
    if (change.added.length || change.removed.length || change.changed.length) this.emit('change', change);
  }
}
