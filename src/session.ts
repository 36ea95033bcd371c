/**
 * One tracing session: preflight, load, filter, attach, then batches of decoded events handed to a
 * sink, lost events reported as they happen, exact counts from the kernel at the end.
 */
import { release } from 'node:os';
import { createDecoder, type Decoder, detectionNames, retransmitKinds } from './decode/decoder.js';
import { WallClock } from './decode/format.js';
import type { DropRecord, LostRecord, RetransmitKind, StartRecord, StopRecord, SuppressedRecord, TraceEvent } from './events.js';
import { SCHEMA_VERSION } from './events.js';
import { nativeFilter, type TraceFilter } from './filter.js';
import { hostName } from './host.js';
import { caStateNames, type ReasonNames, reasonNames, tcpStateNames } from './kernel/btf-names.js';
import { type FeatureReport, type KernelFeatures, kernelFeatures } from './kernel/features.js';
import { Kallsyms } from './kernel/kallsyms.js';
import { fromNative } from './kernel/libbpf-errors.js';
import { loadTracer } from './kernel/load.js';
import { checkBtf, checkPrivileges } from './kernel/preflight.js';
import { derivedReason } from './kernel/reasonless.js';
import { type Addon, loadAddon, type NativeTracer } from './native/addon.js';
import { droptraceVersion } from './version.js';

export interface SessionOptions {
  filter?: TraceFilter;
  /** false: count in the kernel only, stream nothing (summary mode). */
  emit?: boolean;
  ringBytes?: number;
  attach?: 'auto' | 'tp_btf' | 'tracepoint';
  /** Longest an event waits in the ring buffer before it is read (ms). */
  pollMs?: number;
  /**
   * Events per second per key (a drop's netns, reason and location; a retransmit's netns) and CPU
   * that the kernel streams; the rest are counted and reported as suppressed records. 0: no limit.
   */
  rateLimit?: number;
}

export interface SessionSink {
  /** Runs once per batch, on the main thread. */
  events(events: TraceEvent[]): void;
  lost(record: LostRecord): void;
  /** What the rate limit held back, per key, once per interval while it holds events back. */
  suppressed?(record: SuppressedRecord): void;
}

export interface SessionStats {
  seen: number;
  matched: number;
  sent: number;
  lost: number;
  delivered: number;
  suppressed: number;
  counterFull: number;
  /** Retransmits that passed the filters. */
  retransmits: number;
  /** Failed connects (EADDRNOTAVAIL) that passed the filters; the rest of `matched` are drops. */
  connects: number;
  /** Listener SYNs that only set a namespace's per-CPU baseline (the first of each after attaching): not judged. */
  synUnjudged: number;
  /** droptrace's own drops (its unix and netlink sockets): counted, never streamed. */
  own: number;
}

export interface DropCount {
  netns: number;
  reason: string;
  location: string;
  /** How the drops were seen: SYNs refused at a full queue are counted apart by queue. */
  detected_by: DropRecord['detected_by'];
  count: number;
}

export interface RetransmitCount {
  netns: number;
  kind: RetransmitKind;
  count: number;
  /** The segments those retransmits carried (what TcpRetransSegs counts). */
  segments: number;
}

const STATS_INTERVAL_MS = 1000;

export class Session {
  readonly reasons: ReasonNames;
  readonly clock: WallClock;
  private readonly tracer: NativeTracer;
  private readonly decode: Decoder;
  private readonly kallsyms = new Kallsyms();
  private sink: SessionSink | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lostReported = { kernel: 0, user: 0 };
  /** suppressed totals already reported, by rate-limit key */
  private readonly suppressedReported = new Map<string, number>();
  private delivered = 0;
  private stopped = false;
  private stopRecord: StopRecord | undefined;
  private finalStats: SessionStats | undefined;
  private finalCounts: DropCount[] | undefined;
  private finalRetransmits: RetransmitCount[] | undefined;
  /** detected_by by DT_DETECT_* value, for the counters' and the rate limit's keys. */
  private readonly detections: Record<number, DropRecord['detected_by']>;
  private filter: TraceFilter;
  private readonly featureReport: FeatureReport;

  private constructor(
    private readonly addon: Addon,
    private readonly options: SessionOptions,
  ) {
    checkPrivileges();
    checkBtf();
    this.tracer = loadTracer(addon, options.attach, options.ringBytes);
    this.featureReport = kernelFeatures(addon, this.tracer);
    this.reasons = reasonNames(addon);
    this.detections = detectionNames(addon.layout.constants);
    const [sec, nsec] = addon.clockOffset();
    this.clock = new WallClock(sec, nsec);
    this.decode = createDecoder({
      layout: addon.layout,
      reasons: this.reasons,
      tcpStates: tcpStateNames(addon),
      caStates: caStateNames(addon),
      symbolize: (hi, lo) => this.kallsyms.symbolize(hi, lo),
      clock: this.clock,
    });
    this.filter = options.filter ?? {};
    this.applyFilter(this.filter);
    // every name is read: the parsed BTF would only hold memory from here on
    addon.btfRelease();
  }

  /** Loads the programs (nothing attached yet). Throws DroptraceError. */
  static open(options: SessionOptions = {}): Session {
    return new Session(loadAddon(), options);
  }

  /** Events per second per key and CPU the kernel streams (0: all). */
  get rateLimit(): number {
    return this.options.rateLimit ?? 0;
  }

  get attachMode(): 'tp_btf' | 'tracepoint' {
    return this.tracer.attachMode;
  }

  /** The filter in force. */
  currentFilter(): TraceFilter {
    return this.filter;
  }

  /** What this kernel lacks, one line each, for stderr once (the start record has the flags). */
  /** What this kernel lets the programs read (the start record's `features`). */
  get features(): Readonly<KernelFeatures> {
    return this.featureReport.features;
  }

  get featureNotes(): string[] {
    return this.featureReport.notes;
  }

  /** Replaces the in-kernel filter; takes effect for the next event. */
  applyFilter(filter: TraceFilter): void {
    this.filter = filter;
    try {
      this.tracer.setFilter({
        ...nativeFilter(filter, this.options.emit !== false, this.reasons, this.addon.layout),
        rateLimit: this.rateLimit,
      });
    } catch (e) {
      throw fromNative(e);
    }
  }

  startRecord(): StartRecord {
    return {
      type: 'start',
      time: this.clock.now(),
      host: hostName(),
      droptrace_version: droptraceVersion(),
      schema_version: SCHEMA_VERSION,
      kernel: release(),
      program: this.tracer.attachMode,
      rate_limit: this.rateLimit,
      features: { ...this.featureReport.features },
      filter: {
        ...this.filter,
        cgroups: this.filter.cgroups?.map(String),
      },
    };
  }

  /** Attaches and streams. */
  start(sink: SessionSink): void {
    this.sink = sink;
    try {
      this.tracer.start(
        (scratch, length) => {
          // A sink that throws must neither lose the batches queued behind it nor be silenced
          // (Node-API would only print a deprecation warning): it is thrown again, outside the call.
          try {
            this.onBatch(scratch.subarray(0, length));
          } catch (e) {
            process.nextTick(() => {
              throw e;
            });
          }
        },
        { pollMs: this.options.pollMs ?? 10 },
      );
    } catch (e) {
      throw fromNative(e);
    }
    setImmediate(() => this.kallsyms.warm());
    this.timer = setInterval(() => {
      this.checkLost();
      this.checkSuppressed();
    }, STATS_INTERVAL_MS);
    this.timer.unref();
  }

  /** Stops draining the ring buffer (backpressure): the kernel counts what it then cannot deliver. */
  pause(paused: boolean): void {
    this.tracer.setPaused(paused);
  }

  stats(): SessionStats {
    if (this.finalStats) return this.finalStats;
    const s = this.tracer.stats();
    const c = this.addon.layout.constants;
    return {
      seen: s[c.DT_STAT_SEEN],
      matched: s[c.DT_STAT_MATCHED],
      sent: s[c.DT_STAT_SENT],
      lost: s[c.DT_STAT_LOST] + this.tracer.userLost(),
      delivered: this.delivered,
      suppressed: s[c.DT_STAT_SUPPRESSED],
      counterFull: s[c.DT_STAT_COUNTER_FULL],
      retransmits: s[c.DT_STAT_RETRANSMITS],
      connects: s[c.DT_STAT_CONNECTS] ?? 0,
      synUnjudged: s[c.DT_STAT_SYN_UNJUDGED] ?? 0,
      own: s[c.DT_STAT_OWN],
    };
  }

  /** Exact drop counts from the kernel, by (netns, reason, location), largest first; after stop(), the final ones. */
  counts(): DropCount[] {
    if (this.finalCounts) return this.finalCounts;
    return this.tracer
      .counts()
      .map(([netns, reason, address, count, detect]) => {
        const location = this.kallsyms.lookup(address);
        return {
          netns,
          reason: this.reasons.available ? this.reasons.name(reason) : derivedReason(location),
          location,
          detected_by: this.detections[detect] ?? 'kfree_skb',
          count,
        };
      })
      .sort((a, b) => b.count - a.count);
  }

  /** Exact retransmit counts from the kernel, by (netns, kind); after stop(), the final ones. */
  retransmitCounts(): RetransmitCount[] {
    if (this.finalRetransmits) return this.finalRetransmits;
    const kinds = retransmitKinds(this.addon.layout.constants);
    return this.tracer
      .retransmitCounts()
      .map(([netns, kind, count, segments]) => ({ netns, kind: kinds[kind] ?? 'unknown', count, segments }));
  }

  /**
   * Attaches or detaches the program that sees SYNs refused by a full accept or SYN queue (it runs
   * on every consume_skb of the host, so it is on only while listeners refuse: src/listen-watch.ts).
   * False when it is off, or this kernel cannot run it (features.listen_syn).
   */
  setListenSyn(on: boolean): boolean {
    if (this.stopped || !this.featureReport.features.listen_syn) return false;
    try {
      return this.tracer.setListenSyn(on);
    } catch (e) {
      throw fromNative(e);
    }
  }

  /**
   * Detaches everything; the final counts are read first. Idempotent. `budgetMs` bounds the time
   * spent delivering what was in flight (a storm leaves the ring full: seconds of decoding); what
   * is left over is counted lost, never dropped silently.
   */
  stop(options: { budgetMs?: number } = {}): StopRecord {
    if (this.stopRecord) return this.stopRecord;
    // detached first, then what was in flight is delivered: every matched event is either in the
    // stream or counted lost when the stop record is made
    const deadline = performance.now() + (options.budgetMs ?? Number.POSITIVE_INFINITY);
    let unread = 0;
    for (const batch of this.tracer.detach()) {
      if (performance.now() < deadline) this.onBatch(batch);
      else unread += Math.floor(batch.length / this.addon.layout.eventSize);
    }
    this.checkLost();
    this.checkSuppressed();
    const counts = this.counts();
    const stats = this.stats();
    this.finalStats = stats;
    this.finalCounts = counts;
    this.finalRetransmits = this.retransmitCounts();
    this.stopped = true;
    clearInterval(this.timer);
    this.tracer.stop();
    const byReason: Record<string, number> = {};
    for (const row of counts) byReason[row.reason] = (byReason[row.reason] ?? 0) + row.count;
    this.stopRecord = {
      type: 'stop',
      time: this.clock.now(),
      host: hostName(),
      events: this.delivered,
      drops: stats.matched - stats.retransmits - stats.connects,
      retransmits: stats.retransmits,
      connects: stats.connects,
      lost: stats.lost + unread,
      suppressed: stats.suppressed,
      own_drops: stats.own,
      by_reason: byReason,
    };
    return this.stopRecord;
  }

  private onBatch(batch: Buffer): void {
    if (this.stopped || !this.sink) return;
    const events: TraceEvent[] = [];
    this.decode(batch, (e) => events.push(e));
    this.delivered += events.length;
    this.checkLost();
    this.sink.events(events);
  }

  /** One suppressed record per rate-limit key whose count grew since the last look. */
  private checkSuppressed(): void {
    if (this.stopped || !this.sink?.suppressed || !this.rateLimit) return;
    const drop = this.addon.layout.constants.DT_EVENT_DROP;
    const time = this.clock.now();
    for (const [type, netns, reason, location, total, detect] of this.tracer.suppressed()) {
      // SYNs refused at a full accept queue and at a full SYN queue share reason and location
      const key = `${type}/${netns}/${reason}/${location}/${detect}`;
      const count = total - (this.suppressedReported.get(key) ?? 0);
      if (count <= 0) continue;
      this.suppressedReported.set(key, total);
      const isDrop = type === drop;
      this.sink.suppressed({
        type: 'suppressed',
        time,
        host: hostName(),
        event: isDrop ? 'drop' : 'retransmit',
        netns,
        reason: isDrop ? this.reasons.name(reason) : null,
        location: isDrop ? this.kallsyms.lookup(location) : null,
        ...(isDrop && this.detections[detect] && this.detections[detect] !== 'kfree_skb'
          ? { detected_by: this.detections[detect] as Exclude<DropRecord['detected_by'], 'kfree_skb'> }
          : {}),
        count,
        total,
        rate_limit: this.rateLimit,
      });
    }
  }

  private checkLost(): void {
    if (this.stopped || !this.sink) return;
    const now = { kernel: this.tracer.stats()[this.addon.layout.constants.DT_STAT_LOST], user: this.tracer.userLost() };
    for (const where of ['kernel', 'user'] as const) {
      const total = now[where];
      if (total <= this.lostReported[where]) continue;
      const record: LostRecord = {
        type: 'lost',
        time: this.clock.now(),
        host: hostName(),
        where,
        count: total - this.lostReported[where],
        total,
      };
      this.lostReported[where] = total;
      this.sink.lost(record);
    }
  }
}
