/**
 * The library API: `for await (const event of await trace({ container: ['nginx'] }))`. Events come
 * from the same pipeline as the CLI's (container, layer, hint, evidence); lost records arrive in
 * the same stream. A consumer that falls behind pauses the ring pump, so memory stays bounded and
 * the kernel counts (and the stream reports) what was lost.
 */
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
import { Pipeline, type PipelineOptions } from './pipeline.js';
import type { DropCount, SessionStats } from './session.js';

export interface TraceOptions extends PipelineOptions {
  /** Queue length at which the kernel side is paused (default 65536 events). */
  highWaterMark?: number;
}

export type TraceRecord = TraceEvent | LostRecord | SuppressedRecord | WarningRecord | NetnsGoneRecord | ContainerStateRecord;

export class Trace implements AsyncIterable<TraceRecord> {
  readonly start: StartRecord;
  private readonly queue: TraceRecord[] = [];
  private wake: (() => void) | undefined;
  private paused = false;
  private stopRecord: StopRecord | undefined;
  private readonly highWaterMark: number;

  constructor(
    private readonly pipeline: Pipeline,
    options: TraceOptions,
  ) {
    this.highWaterMark = options.highWaterMark ?? 65536;
    pipeline.start({
      events: (events) => {
        for (const e of events) this.queue.push(e);
        this.notify();
      },
      lost: (record) => {
        this.queue.push(record);
        this.notify();
      },
      warning: (record) => {
        this.queue.push(record);
        this.notify();
      },
      netnsGone: (record) => {
        this.queue.push(record);
        this.notify();
      },
      containerState: (record) => {
        this.queue.push(record);
        this.notify();
      },
      suppressed: (record) => {
        this.queue.push(record);
        this.notify();
      },
    });
    this.start = pipeline.startRecord();
  }

  /** Counters: seen, matched, sent, lost (kernel), delivered, retransmits. */
  stats(): SessionStats {
    return this.pipeline.stats();
  }

  /** Exact in-kernel drop counts by (netns, reason, location, detected_by): SYNs refused at either queue count apart. */
  counts(): DropCount[] {
    return this.pipeline.counts();
  }

  /** Replaces the in-kernel filter, without reloading anything (a followed container's entities are not kept). */
  setFilter(filter: TraceFilter): void {
    this.pipeline.session.applyFilter(filter);
  }

  /** Detaches; events already queued can still be iterated. Idempotent. */
  stop(): StopRecord {
    this.stopRecord ??= this.pipeline.stop();
    this.notify();
    return this.stopRecord;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TraceRecord> {
    for (;;) {
      const next = this.queue.shift();
      if (next) {
        if (this.paused && this.queue.length < this.highWaterMark / 2) this.setPaused(false);
        yield next;
        continue;
      }
      if (this.stopRecord) {
        // netfilter drops held for their rule are still to come
        if (this.pipeline.idle) return;
        await this.pipeline.drained();
        continue;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  private notify(): void {
    if (!this.paused && this.queue.length >= this.highWaterMark) this.setPaused(true);
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private setPaused(paused: boolean): void {
    this.paused = paused;
    this.pipeline.pause(paused);
  }
}

/**
 * Resolves the selection (netns names, containers, …), loads, filters and attaches; resolves once
 * streaming. Throws DroptraceError.
 */
export async function trace(options: TraceOptions = {}): Promise<Trace> {
  return new Trace(await Pipeline.open(options), options);
}
