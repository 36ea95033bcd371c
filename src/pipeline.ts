/**
 * The one pipeline: what to trace (a Selection) → session (BPF loaded, filtered, attached) →
 * container index and, with `container`, `pod` or `k8sNamespace`, the followers that keep the
 * kernel filter on those containers and pods → enricher (container, layer, hint, evidence). The library's trace() and every verb
 * take their events from here and only choose a sink.
 */

import { CRI_UNREACHABLE } from './containers/cri-client.js';
import { type ContainerEntities, ContainerFollower, type FollowedState } from './containers/follow.js';
import { ContainerIndex, type ContainerInfo, defaultSources, toContainer } from './containers/index.js';
import { listNetnsNames } from './containers/netns-names.js';
import { PodFollower } from './containers/pod-follow.js';
import { parseK8sNamespace, parsePodSpec } from './containers/pod-names.js';
import { Enricher } from './enrich.js';
import { DroptraceError } from './errors.js';
import type {
  ContainerStateRecord,
  LostRecord,
  NetnsGoneRecord,
  StartRecord,
  StopRecord,
  SuppressedRecord,
  TraceEvent,
  WarningRecord,
} from './events.js';
import type { TraceFilter } from './filter.js';
import { hostName } from './host.js';
import { InOrder } from './in-order.js';
import { NetnsWatch, type WatchedNetns } from './kernel/netns-watch.js';
import { type ListenSynMode, ListenWatch } from './listen-watch.js';
import { filterOf, namespacesOf, type Selection } from './selection.js';
import { type DropCount, type RetransmitCount, Session, type SessionOptions, type SessionStats } from './session.js';

export interface PipelineOptions extends Selection, Omit<SessionOptions, 'filter'> {
  /** Read rulesets and conntrack counts for netfilter drops (runs iptables/nft in the namespace; default true). */
  netfilterEvidence?: boolean;
  /** Diagnostics, one line each without a newline (the CLI writes them to stderr). Default: dropped. */
  log?: (line: string) => void;
  /** When the program that sees SYNs refused by a full queue is attached (src/listen-watch.ts); default auto. */
  listenSyn?: ListenSynMode;
}

export interface PipelineSink {
  /** Enriched events, one call per batch, on the main thread. */
  events(events: TraceEvent[]): void;
  lost(record: LostRecord): void;
  /** What could not be done as asked, mid-stream (a followed container's set no longer fits). */
  warning?(record: WarningRecord): void;
  /** A namespace the user named went away and is no longer traced. */
  netnsGone?(record: NetnsGoneRecord): void;
  /** A followed container stopped, is running, or restarted. */
  containerState?(record: ContainerStateRecord): void;
  /** What the rate limit held back, per key, once per interval while it holds events back. */
  suppressed?(record: SuppressedRecord): void;
}

function unionOf(a: ContainerEntities, b: ContainerEntities): ContainerEntities {
  return {
    netns: [...new Set([...a.netns, ...b.netns])],
    cgroups: [...new Set([...a.cgroups, ...b.cgroups])],
    addresses: [...new Set([...a.addresses, ...b.addresses])],
  };
}

function withEntities(base: TraceFilter, e: ContainerEntities): TraceFilter {
  return { ...base, netns: [...(base.netns ?? []), ...e.netns], cgroups: e.cgroups, addresses: e.addresses, restrict: true };
}

export class Pipeline {
  // netfilter drops wait for the ruleset read after them (the rule is named); order is kept
  private readonly inOrder = new InOrder();
  private sink: PipelineSink | undefined;
  private listenWatch: ListenWatch | undefined;

  private constructor(
    readonly session: Session,
    readonly index: ContainerIndex,
    private readonly followers: Array<{ stop(): void }>,
    private readonly enricher: Enricher,
    private readonly log: (line: string) => void,
    private readonly watch: NetnsWatch,
    private readonly listenSyn: ListenSynMode,
  ) {}

  /** Resolves the selection, loads the programs and the container index; nothing attached yet. Throws DroptraceError. */
  static async open(options: PipelineOptions = {}): Promise<Pipeline> {
    const log = options.log ?? (() => {});
    const named = namespacesOf(options);
    let base = filterOf(options, named);
    const specs = options.container ?? [];
    const pods = (options.pod ?? []).map(parsePodSpec);
    const namespaces = (options.k8sNamespace ?? []).map(parseK8sNamespace);
    const following = specs.length > 0 || pods.length > 0 || namespaces.length > 0;
    // the periodic full refresh is only a backstop (runtime events and misses refresh it): every 30 s
    const index = new ContainerIndex({ pollMs: 30_000, sources: defaultSources(process.env, { criSocket: options.criSocket }) });
    // a source that fails (Docker API unreachable) matters only when a container was asked for; the
    // CRI runtime always does (pods are then named from cgroup paths only); once per kind
    const warned = new Set<string>();
    index.on('warning', (e) => {
      const cri = e.code.startsWith('ERR_DROPTRACE_CRI_');
      if (warned.has(e.code) || !(specs.length > 0 || cri)) return;
      warned.add(e.code);
      log(`warning [${e.code}]: ${e.message}${e.code === CRI_UNREACHABLE ? '; pods are named from cgroup paths only (procfs)' : ''}`);
    });
    const followers: Array<{ stop(): void }> = [];
    let session: Session | undefined;
    let pipeline: Pipeline | undefined;
    // the filter as it is now: `base` loses namespaces that go away, the followers rewrite theirs
    let current = (): TraceFilter => base;
    const refilter = () => {
      try {
        session?.applyFilter(current());
      } catch (e) {
        // at start this fails open(); later the kernel keeps the previous filter, and the stream says so
        if (!pipeline || !(e instanceof DroptraceError)) throw e;
        pipeline.warn(e.code, `${e.message}; the filter is unchanged`);
      }
    };
    // a named namespace that goes away leaves the filter: its inode may be handed to a new one
    const watch = new NetnsWatch(named, (gone) => {
      base = { ...base, netns: (base.netns ?? []).filter((i) => i !== gone.inode), restrict: true };
      refilter();
      pipeline?.netnsGone(gone);
    });
    let filter = base;
    // made before the session, so that the rulesets can be read while the programs load; it needs
    // the session's clock only for events, which come after
    const enricher = new Enricher({
      // a failed connect names its caller's namespace and cgroup; its destination says nothing of where it ran
      attribute: (ev) =>
        index.attribute(ev.type === 'connect_error' ? { netns: ev.netns, cgroup_id: ev.cgroup_id, saddr: null, daddr: null } : ev),
      netfilterEvidence: options.netfilterEvidence,
      // drops and ruleset reads compared on one clock: a wall-clock step cannot misplace a read
      monotonicOf: (time) => (session as Session).clock.monotonicMs(time),
    });
    index.on('gone', (netns) => enricher.forget(netns));
    // a read of each traced namespace's ruleset from before its first drop (no events, no drops to
    // name). Started as soon as the traced namespaces are known: the reads (nsenter, iptables-save,
    // nft) then run beside the container discovery and the BPF load instead of after them.
    let primed: Promise<void> | undefined;
    const failed = new AbortController();
    const prime = (f: TraceFilter) => {
      if (options.emit === false) return;
      primed = enricher.prime(f.netns?.length || f.restrict ? (f.netns ?? []) : null, undefined, failed.signal);
      // awaited once the programs are loaded, and a failure thrown there: not an unhandled rejection meanwhile
      primed.catch(() => {});
    };
    try {
      if (!following) prime(filter);
      await index.start();
      if (following) {
        // each follower's latest entities; the kernel filter is their union
        let ofContainers: ContainerEntities = { netns: [], cgroups: [], addresses: [] };
        let ofPods: ContainerEntities = { netns: [], cgroups: [], addresses: [] };
        const union = () => withEntities(base, unionOf(ofContainers, ofPods));
        current = union;
        if (specs.length) {
          const f = new ContainerFollower(
            index,
            specs,
            (entities) => {
              ofContainers = entities;
              refilter();
            },
            log,
            (spec, state, c) => pipeline?.containerState(spec, state, c),
          );
          followers.push(f);
          ofContainers = await f.start();
        }
        if (pods.length || namespaces.length) {
          const f = new PodFollower(
            index,
            pods,
            namespaces,
            (entities) => {
              ofPods = entities;
              refilter();
            },
            log,
          );
          followers.push(f);
          ofPods = await f.start();
        }
        filter = union();
        prime(filter);
      }
      session = Session.open({ ...options, filter });
      // what this kernel lacks, once (the start record has the flags)
      for (const note of session.featureNotes) log(note);
    } catch (e) {
      failed.abort();
      for (const f of followers) f.stop();
      index.stop();
      throw e;
    }
    await primed;
    pipeline = new Pipeline(session, index, followers, enricher, log, watch, options.listenSyn ?? 'auto');
    return pipeline;
  }

  /** Attaches and streams enriched events to the sink. */
  start(sink: PipelineSink): void {
    this.sink = sink;
    this.watch.start();
    this.session.start({
      events: (events) => {
        for (const e of events) this.enricher.apply(e);
        this.inOrder.push(this.enricher.settle(), events.length, () => sink.events(events));
      },
      lost: (record) => this.inOrder.push(null, 1, () => sink.lost(record)),
      suppressed: (record) => this.inOrder.push(null, 1, () => sink.suppressed?.(record)),
    });
    if (!this.session.features.listen_syn) return;
    if (this.listenSyn === 'always') {
      try {
        this.session.setListenSyn(true);
      } catch (e) {
        // the rest is attached and streaming: the refusals are left to the audit, and said so
        this.warn((e as DroptraceError).code ?? 'ERR_DROPTRACE_BPF_ATTACH', `cannot trace refused SYNs: ${(e as Error).message}`);
      }
      return;
    }
    this.listenWatch = new ListenWatch({
      namespaces: () => {
        const f = this.session.currentFilter();
        return f.netns?.length ? f.netns : f.restrict ? [] : null;
      },
      set: (on) => this.session.setListenSyn(on),
      log: this.log,
      nameOf: (netns) => this.nameOf(netns),
    });
    this.listenWatch.start();
  }

  /**
   * Resolves once every batch is handed to the sink (after stop(): the held netfilter drops too),
   * waiting at most `budgetMs` for their evidence when given.
   */
  drained(budgetMs?: number): Promise<void> {
    return this.inOrder.drained(budgetMs);
  }

  /** Nothing is held back for its evidence. */
  get idle(): boolean {
    return this.inOrder.idle;
  }

  /** A warning record to the sink and a diagnostic line to the log. */
  warn(code: string, message: string): void {
    this.log(`warning [${code}]: ${message}`);
    this.sink?.warning?.({ type: 'warning', time: this.session.clock.now(), host: hostName(), code, message });
  }

  private containerState(spec: string, state: FollowedState, c: ContainerInfo): void {
    this.sink?.containerState?.({
      type: 'container_state',
      time: this.session.clock.now(),
      host: hostName(),
      spec,
      state,
      container: toContainer(c),
      netns: state === 'stopped' ? null : c.netns,
    });
  }

  private netnsGone(gone: WatchedNetns): void {
    const what = gone.name ? `netns ${gone.name} (${gone.inode})` : `netns ${gone.inode}`;
    this.log(`${what} is gone: no longer traced, nor is a namespace that gets its inode later`);
    this.sink?.netnsGone?.({ type: 'netns_gone', time: this.session.clock.now(), host: hostName(), netns: gone.inode, name: gone.name });
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

  retransmitCounts(): RetransmitCount[] {
    return this.session.retransmitCounts();
  }

  /** A name for a namespace: its container's, its `ip netns` name, or undefined. */
  nameOf(netns: number): string | undefined {
    return this.index.byNetns(netns)?.name ?? listNetnsNames().find((n) => n.inode === netns)?.name;
  }

  /** Detaches, then stops following containers. Idempotent. */
  stop(options: { budgetMs?: number } = {}): StopRecord {
    this.listenWatch?.stop();
    const stop = this.session.stop(options);
    this.watch.stop();
    for (const f of this.followers) f.stop();
    this.index.stop();
    return stop;
  }
}
