/**
 * The stream's writer to a reader that may be slow or stopped (`| pv -L 100k`, a stalled log
 * shipper). Node buffers whatever write() is given, without limit: events queued behind a slow
 * reader delay the `lost` record that says events are missing, and a stopped reader keeps the
 * process alive after Ctrl-C until it reads everything. So:
 * - events are written only while less than `highWaterBytes` wait in the process; beyond it they
 *   are dropped here and counted (`lost`, where `output`), and the caller stops draining the ring
 *   (the kernel then counts its own loss);
 * - loss records (and other control records) are written at once, behind at most that much;
 * - close() waits a bounded time for the reader; what it never took is counted as lost.
 */
import type { LostRecord, StopRecord } from '../events.js';
import { hostName } from '../host.js';
import { jsonLine, ndjsonBytes, releaseBytes } from '../output/ndjson.js';
import { abandonOutput, outputClosed, writeOut } from './stdout.js';

/** About a second of a 64 KiB/s reader, and as much as the kernel's pipe buffer: loss news waits no longer. */
export const HIGH_WATER_BYTES = 64 * 1024;
/** A user-space loss record at most this often while events keep being dropped. */
const LOST_EVERY_MS = 1000;

export interface RecordWriterOptions {
  highWaterBytes?: number;
  now?: () => number;
  /** Called when the writer starts dropping (true) and when the reader caught up (false). */
  onBackpressure?: (behind: boolean) => void;
  /** A user-space loss record to write (the caller formats it: NDJSON or text). */
  onLost?: (record: Omit<LostRecord, 'time'>) => void;
}

export class RecordWriter {
  private readonly highWater: number;
  private readonly now: () => number;
  /** Records handed to the stream whose write has not completed, per chunk, oldest first. */
  private readonly inFlight: number[] = [];
  private inFlightHead = 0;
  private unflushedRecords = 0;
  private pendingChunks = 0;
  private onIdle: (() => void) | undefined;
  private behind = false;
  private droppedSinceReport = 0;
  private droppedTotal = 0;
  private lastReport = -Infinity;
  private closed = false;

  constructor(
    private readonly out: NodeJS.WritableStream & { writableLength?: number },
    private readonly options: RecordWriterOptions = {},
  ) {
    this.highWater = options.highWaterBytes ?? HIGH_WATER_BYTES;
    this.now = options.now ?? Date.now;
  }

  /** Events lost in this process so far (dropped here, or still unwritten at close). */
  get lost(): number {
    return this.droppedTotal;
  }

  /** Writes `count` events, formatted by `text()` only when they will be written; else drops and counts them. */
  events(text: string | Buffer | (() => string | Buffer), count: number): void {
    if (count === 0 || this.closed || outputClosed(this.out)) return;
    if (this.behind || (this.out.writableLength ?? 0) >= this.highWater) {
      // behind: not even formatted (a storm behind a stalled reader costs a count, not a stringify)
      this.drop(count);
      return;
    }
    this.send(typeof text === 'function' ? text() : text, count);
  }

  /** Writes a record that must not wait behind events nor be dropped (loss, warnings, start, stop). */
  control(text: string | Buffer): boolean {
    if (text.length === 0 || outputClosed(this.out)) return true;
    return this.send(text, 0);
  }

  /**
   * Reports what is still unreported, waits at most `timeoutMs` for the reader to take what is
   * queued, and returns how many events it never took (now counted in `lost`).
   */
  async close(timeoutMs: number): Promise<{ flushed: boolean; unwritten: number }> {
    this.closed = true;
    this.report(true);
    const flushed = await this.flush(timeoutMs);
    const unwritten = flushed ? 0 : this.unflushedRecords;
    this.droppedTotal += unwritten;
    return { flushed, unwritten };
  }

  /** Discards what the reader never took, so that the process can exit. */
  abandon(): void {
    abandonOutput(this.out);
  }

  private send(text: string | Buffer, count: number): boolean {
    this.inFlight.push(count);
    this.unflushedRecords += count;
    this.pendingChunks++;
    const ok = writeOut(this.out, text, () => {
      // stdout is done with it: ndjsonBytes() may fill its slab again
      if (typeof text !== 'string') releaseBytes(text);
      this.written();
    });
    if (!ok && !this.behind && count > 0) this.setBehind(true);
    return ok;
  }

  private written(): void {
    const count = this.inFlight[this.inFlightHead++] ?? 0;
    this.unflushedRecords -= count;
    if (--this.pendingChunks === 0) this.onIdle?.();
    if (this.inFlightHead > 1024) {
      this.inFlight.splice(0, this.inFlightHead);
      this.inFlightHead = 0;
    }
  }

  private setBehind(behind: boolean): void {
    this.behind = behind;
    this.options.onBackpressure?.(behind);
    if (behind) {
      this.out.once('drain', () => {
        this.report(true);
        this.setBehind(false);
      });
    }
  }

  private drop(count: number): void {
    this.droppedSinceReport += count;
    this.droppedTotal += count;
    this.report(false);
  }

  private report(force: boolean): void {
    if (this.droppedSinceReport === 0) return;
    const now = this.now();
    if (!force && now - this.lastReport < LOST_EVERY_MS) return;
    this.lastReport = now;
    const count = this.droppedSinceReport;
    this.droppedSinceReport = 0;
    this.options.onLost?.({ type: 'lost', host: hostName(), where: 'output', count, total: this.droppedTotal });
  }

  private flush(timeoutMs: number): Promise<boolean> {
    if (this.pendingChunks === 0 || outputClosed(this.out)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.onIdle = undefined;
        resolve(false);
      }, timeoutMs);
      this.onIdle = () => {
        clearTimeout(timer);
        this.onIdle = undefined;
        resolve(true);
      };
    });
  }
}

/** How long a stopping stream spends delivering what was in flight (the rest is counted lost). */
export const STOP_DECODE_MS = 250;
/** At stop, how long netfilter drops held for their ruleset read may still wait for it. */
export const STOP_EVIDENCE_MS = 250;
/** How long a stopping stream waits for its reader: with the above, Ctrl-C ends the process within a second. */
export const STOP_FLUSH_MS = 300;

/**
 * The end of a stream: what the reader never took is counted lost, the stop record goes to stdout
 * when the reader is keeping up and to stderr when it is not (then stdout's queue is discarded, or
 * the process would wait for a reader that may never read).
 */
export async function finishStream(
  kernelStop: StopRecord,
  writer: RecordWriter,
  json: boolean,
  io: { err: NodeJS.WritableStream },
): Promise<StopRecord> {
  const { flushed } = await writer.close(STOP_FLUSH_MS);
  const stop: StopRecord = { ...kernelStop, events: kernelStop.events - writer.lost, lost: kernelStop.lost + writer.lost };
  if (!json) {
    if (!flushed) writer.abandon();
    return stop;
  }
  if (flushed) {
    writer.control(ndjsonBytes([stop]));
    if ((await writer.close(STOP_FLUSH_MS / 2)).flushed) return stop;
  }
  writer.abandon();
  io.err.write(`droptrace: stdout is not being read; the stop record:\n${jsonLine(stop)}`);
  return stop;
}
