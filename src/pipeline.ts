/**
 * The one pipeline: what to trace (a Selection) → session (BPF loaded, filtered, attached) →
 * container index and, with `container`, the follower that keeps the kernel filter on the
 * containers → enricher (container, layer, hint, evidence). The library's trace() and every verb
 * take their events from here and only choose a sink.
 */
import { type ContainerEntities, ContainerFollower } from './containers/follow.js';
import { ContainerIndex } from './containers/index.js';
import { listNetnsNames } from './containers/netns-names.js';
import { Enricher } from './enrich.js';
import type { LostRecord, StartRecord, StopRecord, TraceEvent } from './events.js';
import type { TraceFilter } from './filter.js';
import { filterOf, type Selection } from './selection.js';
import { type DropCount, Session, type SessionOptions, type SessionStats } from './session.js';

export interface PipelineOptions extends Selection, Omit<SessionOptions, 'filter'> {
  /** Read rulesets and conntrack counts for netfilter drops (runs iptables/nft in the namespace; default true). */
  netfilterEvidence?: boolean;
  /** Diagnostics, one line each without a newline (the CLI writes them to stderr). Default: dropped. */
  log?: (line: string) => void;
}

export interface PipelineSink {
  /** Enriched events, one call per batch, on the main thread. */
  events(events: TraceEvent[]): void;
  lost(record: LostRecord): void;
}

function withEntities(base: TraceFilter, e: ContainerEntities): TraceFilter {
  return { ...base, netns: [...(base.netns ?? []), ...e.netns], cgroups: e.cgroups, addresses: e.addresses, restrict: true };
}

export class Pipeline {
  private constructor(
    readonly session: Session,
    readonly index: ContainerIndex,
    private readonly follower: ContainerFollower | undefined,
    private readonly enricher: Enricher,
  ) {}

  /** Resolves the selection, loads the programs and the container index; nothing attached yet. Throws DroptraceError. */
  static async open(options: PipelineOptions = {}): Promise<Pipeline> {
    const log = options.log ?? (() => {});
    const base = filterOf(options);
    const specs = options.container ?? [];
    // the periodic full refresh is only a backstop (runtime events and misses refresh it): every 30 s
    const index = new ContainerIndex({ pollMs: 30_000 });
    if (specs.length) {
      // a source that fails (Docker API unreachable) matters only when a container was asked for; once per kind
      const warned = new Set<string>();
      index.on('warning', (e) => {
        if (warned.has(e.code)) return;
        warned.add(e.code);
        log(`warning [${e.code}]: ${e.message}`);
      });
    }
    let follower: ContainerFollower | undefined;
    let session: Session | undefined;
    try {
      await index.start();
      let filter = base;
      if (specs.length) {
        follower = new ContainerFollower(index, specs, (entities) => session?.applyFilter(withEntities(base, entities)), log);
        filter = withEntities(base, await follower.start());
      }
      session = Session.open({ ...options, filter });
    } catch (e) {
      follower?.stop();
      index.stop();
      throw e;
    }
    const enricher = new Enricher({
      // a failed connect names its caller's namespace and cgroup; its destination says nothing of where it ran
      attribute: (ev) =>
        index.attribute(ev.type === 'connect_error' ? { netns: ev.netns, cgroup_id: ev.cgroup_id, saddr: null, daddr: null } : ev),
      netfilterEvidence: options.netfilterEvidence,
    });
    index.on('gone', (netns) => enricher.forget(netns));
    return new Pipeline(session, index, follower, enricher);
  }

  /** Attaches and streams enriched events to the sink. */
  start(sink: PipelineSink): void {
    this.session.start({
      events: (events) => {
        for (const e of events) this.enricher.apply(e);
        sink.events(events);
      },
      lost: (record) => sink.lost(record),
    });
  }

  startRecord(): StartRecord {
    return this.session.startRecord();
  }

  /** Stops draining the ring buffer (backpressure): the kernel counts what it then cannot deliver. */
  pause(paused: boolean): void {
    this.session.pause(paused);
  }

  stats(): SessionStats {
    return this.session.stats();
  }

  counts(): DropCount[] {
    return this.session.counts();
  }

  /** The namespaces the filter names (with followed containers'), or none when it traces every namespace. */
  filteredNetns(): number[] {
    return [...(this.session.currentFilter().netns ?? [])];
  }

  /** A name for a namespace: its container's, its `ip netns` name, or undefined. */
  nameOf(netns: number): string | undefined {
    return this.index.byNetns(netns)?.name ?? listNetnsNames().find((n) => n.inode === netns)?.name;
  }

  /** Detaches, then stops following containers. Idempotent. */
  stop(): StopRecord {
    const stop = this.session.stop();
    this.follower?.stop();
    this.index.stop();
    return stop;
  }
}
