/**
 * Each decoded event, in place: the container it concerns, then for drops the layer, component,
 * hint, benign flag and the evidence that supports the hint. Per-event work is map look-ups and the
 * pure classify(); anything that needs I/O (rulesets, conntrack) is read in the background by
 * src/readers/. A netfilter drop is classified at once and again when the ruleset read after it is
 * in (the rule is named then): `settle()` says when.
 */
import { type ClassifyContext, classify } from './classify/index.js';
import type { Attribution } from './containers/attribution.js';
import { type ContainerInfo, toContainer } from './containers/types.js';
import type { ConnectErrorRecord, Container, DropRecord, Evidence, TraceEvent } from './events.js';
import type { Pending } from './in-order.js';
import { NetnsPaths } from './kernel/netns-paths.js';
import { ConntrackEvidence } from './readers/conntrack-evidence.js';
import { ListenQueues } from './readers/listen-queues.js';
import { NeighLimits } from './readers/neigh-limits.js';
import { type NetfilterRuleHit, NetfilterRules } from './readers/netfilter-rules.js';
import { PortRanges } from './readers/port-range.js';

export interface EnrichOptions {
  /** Which container an event concerns; absent: every event's container is null. */
  attribute?: (event: TraceEvent) => Attribution | null;
  /** Read rulesets and conntrack counts for netfilter drops (runs iptables/nft in the namespace; default true). */
  netfilterEvidence?: boolean;
  /**
   * A record's time on CLOCK_MONOTONIC (ms), the clock ruleset reads are timed with; default: the
   * wall clock for both (a clock step during the run then shifts which read counts as "before").
   */
  monotonicOf?: (time: string) => number;
}

/** CLOCK_MONOTONIC now, in ms: the clock bpf_ktime_get_ns() reads. */
const monotonicNowMs = () => Number(process.hrtime.bigint() / 1000n) / 1000;

/** How long a netfilter drop waits for the ruleset read after it before it goes out unnamed. */
const RULE_WAIT_MS = 3000;
/**
 * Netfilter drops waiting for a ruleset read, at most: in a storm whose reads fall behind, later
 * drops go out at once with their rule unnamed (their hint says why), rather than the stream
 * queueing in memory (each waiting drop is a few KB, held until its read or the 3 s wait ends).
 */
const MAX_WAITING = 2048;
/**
 * After the stream had to release waiting drops without their rule (too many records held behind
 * them: src/in-order.ts), this long no drop waits for a read. In a storm, each wait would fill the
 * hold again within a tenth of a second, only to be released unnamed once more, and every record
 * held that long outlives two young-generation collections and is copied into the old one. A read
 * still runs for the drops after the pause, so naming resumes when the storm ends.
 */
const NAMING_PAUSE_MS = 2000;
/** Namespaces read at once when tracing starts. */
const PRIME_PARALLEL = 4;

export class Enricher {
  private readonly rules: NetfilterRules;
  private readonly conntrack = new ConntrackEvidence();
  private readonly netnsPaths = new NetnsPaths();
  private readonly portRanges = new PortRanges();
  private readonly listenQueues = new ListenQueues();
  private readonly neighLimits = new NeighLimits();
  /** One record `Container` per index entry: a storm names the same container a million times. */
  private readonly containers = new WeakMap<ContainerInfo, Container>();
  /** Netfilter drops applied since the last settle(), by namespace path: one ruleset read serves them all. */
  private pending = new Map<string, { at: string; drops: { e: DropRecord; raw: Evidence; context: ClassifyContext }[] }>();
  /** Drops applied and not yet named or given up on (pending and in ruleOf). */
  private waiting = 0;
  /** No drop waits for its read until this timer fires (NAMING_PAUSE_MS). */
  private namingPause: NodeJS.Timeout | undefined;

  private readonly timeOf: (time: string) => number;

  constructor(private readonly options: EnrichOptions = {}) {
    this.rules = new NetfilterRules({
      ...(options.monotonicOf ? { now: monotonicNowMs } : {}),
      // a ruleset read brings the namespace's conntrack count too: one process for both
      onConntrack: (path, stats) => this.conntrack.offer(path, stats),
    });
    this.timeOf = options.monotonicOf ?? Date.parse;
  }

  apply(event: TraceEvent): void {
    const hit = this.options.attribute?.(event) ?? null;
    event.container = hit ? this.containerOf(hit.container) : null;
    event.container_via = hit ? hit.via : null;
    if (event.type === 'drop') this.classifyDrop(event);
    else if (event.type === 'connect_error') this.explainConnect(event);
  }

  private explainConnect(e: ConnectErrorRecord): void {
    e.port_range = this.portRanges.of(e.netns, [`/proc/${e.pid}/ns/net`, this.netnsPaths.pathOf(e.netns)]);
    const range = e.port_range
      ? ` (ip_local_port_range ${e.port_range[0]}-${e.port_range[1]}: ${e.port_range[1] - e.port_range[0] + 1} ports)`
      : '';
    const dst = e.family === 'ipv6' ? `[${e.daddr}]:${e.dport}` : `${e.daddr}:${e.dport}`;
    const inside = e.container && e.container_via === 'netns' ? ` in ${e.container.name}` : '';
    e.hint = `${e.comm} (pid ${e.pid})${inside} found no free local port to connect to ${dst}${range}: widen net.ipv4.ip_local_port_range, reuse connections (keep-alive, pooling) or spread them over more source addresses or destinations`;
  }

  /**
   * Resolves when every event applied since the last call has its rule evidence (or gave up
   * waiting); null when none waits. Callers release those events, in order, after it.
   */
  settle(): Pending | null {
    if (this.pending.size === 0) return null;
    const batch = { abandoned: false };
    const pending = [...this.pending];
    const waits = pending.map(([path, p]) => this.ruleOf(path, this.timeOf(p.at), p.drops, batch));
    this.pending = new Map();
    return {
      ready: Promise.all(waits).then(() => undefined),
      // released without its rule (a bound was reached, or the stop's budget ran out): said so in
      // its hint, and the read that comes later leaves it as it went out
      abandon: () => {
        batch.abandoned = true;
        for (const [, p] of pending) for (const d of p.drops) this.fill(d.e, d.raw, { ...d.context, rulesSkipped: true });
        this.pauseNaming();
      },
    };
  }

  /**
   * Reads the rulesets of the traced namespaces (`null`: every namespace there is) before drops
   * come, so that the first drop of a namespace has a read from before it. Waits at most
   * `budgetMs` (by default 2 s for namespaces asked for; for all of them, not at all: a plain
   * `droptrace` starts at once); the reads still running carry on. `signal`: the start failed
   * meanwhile; no more reads, and its budget no longer holds the process up.
   */
  async prime(inodes: readonly number[] | null, budgetMs = inodes === null ? 0 : 2000, signal?: AbortSignal): Promise<void> {
    if (this.options.netfilterEvidence === false) return;
    const all = this.netnsPaths.all();
    const paths = (inodes ?? [...all.keys()]).map((i) => all.get(i)).filter((p): p is string => p !== undefined);
    let next = 0;
    const worker = async () => {
      while (next < paths.length && !signal?.aborted) {
        const path = paths[next++] as string;
        await this.rules.prime(path).catch(() => {
          // gone meanwhile, or no permission: its drops are read after the fact
        });
      }
    };
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(Array.from({ length: Math.min(PRIME_PARALLEL, paths.length) }, worker)),
      new Promise<void>((r) => {
        timer = setTimeout(r, budgetMs);
        signal?.addEventListener('abort', () => r(), { once: true });
      }),
    ]);
    clearTimeout(timer);
  }

  /** A namespace went away and its inode may come back as another: forget how to enter it and what it held. */
  forget(netns: number): void {
    const path = this.netnsPaths.pathOf(netns, { rescan: false });
    this.netnsPaths.forget(netns);
    this.portRanges.forget(netns);
    if (path !== undefined) this.listenQueues.forget(path);
    if (path === undefined) return;
    this.rules.forget(path);
    this.conntrack.forget(path);
  }

  private pauseNaming(): void {
    clearTimeout(this.namingPause);
    this.namingPause = setTimeout(() => {
      this.namingPause = undefined;
    }, NAMING_PAUSE_MS);
    this.namingPause.unref();
  }

  private containerOf(info: ContainerInfo): Container {
    let c = this.containers.get(info);
    if (!c) {
      c = toContainer(info);
      this.containers.set(info, c);
    }
    return c;
  }

  private classifyDrop(e: DropRecord): void {
    const context: ClassifyContext = {
      // Hints say "in <container>" of where the drop happened: only true when it was in the
      // container's own namespace (not the host's FORWARD chain for its address, nor its veth's host end).
      container: e.container_via === 'netns' ? (e.container?.name ?? null) : null,
      netfilter: null,
      conntrack: null,
    };
    const raw = e.evidence;
    if (this.options.netfilterEvidence !== false && e.reason === 'NETFILTER_DROP') {
      const path = this.netnsPaths.pathOf(e.netns);
      if (path && (this.waiting >= MAX_WAITING || this.namingPause)) {
        context.rulesSkipped = true;
        context.conntrack = this.conntrack.current(path) ?? null;
      } else if (path) {
        this.waiting++;
        context.netfilter = undefined; // the read after the drop is running
        context.conntrack = this.conntrack.current(path) ?? null;
        // the earliest drop of the batch decides which read counts as "before" for all of them;
        // the decoder's times are RFC 3339 of one width, so their text sorts as they do
        const p = this.pending.get(path);
        if (p) {
          if (e.time < p.at) p.at = e.time;
          p.drops.push({ e, raw, context });
        } else this.pending.set(path, { at: e.time, drops: [{ e, raw, context }] });
      }
    }
    if (raw.neigh_entries !== undefined && raw.gc_thresh3 === undefined) {
      // the classic tracepoint has the table's entries, not its limit
      const limit = this.neighLimits.gcThresh3(e.family === 'ipv6' ? 'ipv6' : 'ipv4');
      if (limit !== undefined) raw.gc_thresh3 = limit;
    }
    if (e.detected_by !== 'kfree_skb' && e.dport !== null) {
      // a SYN refused at SYN time comes with no socket: the listener's queue as `ss` sees it (a second old at most)
      const path = this.netnsPaths.pathOf(e.netns);
      const q = path ? this.listenQueues.current(path, e.dport) : undefined;
      if (q) {
        e.evidence.queue_len = q.len;
        e.evidence.queue_limit = q.limit;
      }
    }
    this.fill(e, raw, context);
  }

  private ruleOf(
    path: string,
    atMs: number,
    drops: { e: DropRecord; raw: Evidence; context: ClassifyContext }[],
    batch: { abandoned: boolean },
  ): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((r) => {
      timer = setTimeout(() => r(undefined), RULE_WAIT_MS);
    });
    const done = () => {
      clearTimeout(timer);
      this.waiting -= drops.length;
    };
    return Promise.race([this.rules.attribute(path, atMs), timeout]).then(
      (hits: NetfilterRuleHit[] | undefined) => {
        done();
        if (!hits || batch.abandoned) return;
        const conntrack = this.conntrack.current(path);
        for (const d of drops) this.fill(d.e, d.raw, { ...d.context, netfilter: hits, conntrack: conntrack ?? d.context.conntrack });
      },
      () => {
        // the namespace went away before its ruleset could be read: the drop stays unnamed
        done();
      },
    );
  }

  /** `raw`: the evidence the kernel captured; classify() reads it and replaces it with what supports the hint. */
  private fill(e: DropRecord, raw: Evidence, context: ClassifyContext): void {
    e.evidence = raw;
    const c = classify(e, context);
    e.layer = c.layer;
    e.component = c.component;
    e.hint = c.hint;
    e.benign = c.benign;
    e.evidence = c.evidence;
  }
}
