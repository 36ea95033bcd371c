/**
 * The library API: `for await (const event of await trace({ filter }))`. Events are enriched like
 * the CLI's; lost records arrive in the same stream. A consumer that falls behind pauses the ring
 * pump, so memory stays bounded and the kernel counts (and the stream reports) what was lost.
 */
import { Enricher, type EnrichOptions } from './enrich.js';
import type { LostRecord, StartRecord, StopRecord, TraceEvent } from './events.js';
import type { TraceFilter } from './filter.js';
import { type DropCount, Session, type SessionOptions, type SessionStats } from './session.js';

export interface TraceOptions extends SessionOptions, EnrichOptions {
  /** Queue length at which the kernel side is paused (default 65536 events). */
  highWaterMark?: number;
}

export type TraceRecord = TraceEvent | LostRecord;

export class Trace implements AsyncIterable<TraceRecord> {
  readonly start: StartRecord;
  private readonly queue: TraceRecord[] = [];
  private wake: (() => void) | undefined;
  private paused = false;
  private stopRecord: StopRecord | undefined;
  private readonly highWaterMark: number;

  constructor(
    private readonly session: Session,
    options: TraceOptions,
  ) {
    this.highWaterMark = options.highWaterMark ?? 65536;
    const enricher = new Enricher(options);
    session.start({
      events: (events) => {
        for (const e of events) {
          enricher.apply(e);
          this.queue.push(e);
        }
        this.notify();
      },
      lost: (record) => {
        this.queue.push(record);
        this.notify();
      },
    });
    this.start = session.startRecord();
  }

  /** Counters: seen, matched, sent, lost (kernel), delivered. */
  stats(): SessionStats {
    return this.session.stats();
  }

  /** Exact in-kernel drop counts by (netns, reason, location). */
  counts(): DropCount[] {
    return this.session.counts();
  }

  /** Changes what is traced, without reloading anything. */
  setFilter(filter: TraceFilter): void {
    this.session.applyFilter(filter);
  }

  /** Detaches; events already queued can still be iterated. Idempotent. */
  stop(): StopRecord {
    this.stopRecord ??= this.session.stop();
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
      if (this.stopRecord) return;
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
    this.session.pause(paused);
  }
}

/** Loads, filters and attaches; resolves once streaming. Throws DroptraceError. */
export async function trace(options: TraceOptions = {}): Promise<Trace> {
  return new Trace(Session.open(options), options);
}
