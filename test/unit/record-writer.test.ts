/** The stream's writer against a reader that stops: bounded queue, loss overtakes, close is bounded. */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { RecordWriter } from '../../src/cli/record-writer.js';
import type { LostRecord } from '../../src/events.js';

/** A reader that takes nothing until release() is called. */
function stalledReader() {
  const held: Array<() => void> = [];
  const out = new Writable({
    highWaterMark: 1024,
    write(_chunk, _enc, cb) {
      held.push(cb);
    },
  });
  return {
    out,
    release: () => {
      for (const cb of held.splice(0)) cb();
    },
  };
}

describe('RecordWriter', () => {
  it('queues at most the high-water mark of events, counts the rest, and lets loss records through', () => {
    const { out } = stalledReader();
    const lost: Omit<LostRecord, 'time'>[] = [];
    const pauses: boolean[] = [];
    const w = new RecordWriter(out, {
      highWaterBytes: 4096,
      onLost: (r) => lost.push(r),
      onBackpressure: (b) => pauses.push(b),
      now: () => 0,
    });
    const line = `${'x'.repeat(99)}\n`;
    for (let i = 0; i < 1000; i++) w.events(line, 1);
    expect(out.writableLength).toBeLessThanOrEqual(4096 + line.length);
    expect(w.lost).toBeGreaterThan(900);
    expect(pauses).toEqual([true]);
    // the first drop is reported at once, not after the queue drains
    expect(lost[0]).toMatchObject({ type: 'lost', where: 'output' });
    const before = out.writableLength;
    w.control('{"type":"lost"}\n');
    expect(out.writableLength).toBe(before + 16);
  });

  it('close() waits a bounded time and counts what the reader never took', async () => {
    const { out } = stalledReader();
    const w = new RecordWriter(out, { highWaterBytes: 1 << 20 });
    for (let i = 0; i < 10; i++) w.events('e\n', 1);
    const t0 = Date.now();
    const r = await w.close(100);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(r.flushed).toBe(false);
    // the first chunk may be in the "kernel" (the held callback); all ten are unconfirmed
    expect(r.unwritten).toBe(10);
    expect(w.lost).toBe(10);
  });

  it('close() resolves as soon as a reader takes everything', async () => {
    const { out, release } = stalledReader();
    const w = new RecordWriter(out);
    w.events('e\n', 1);
    const closing = w.close(10_000);
    release();
    setImmediate(release);
    expect(await closing).toEqual({ flushed: true, unwritten: 0 });
    expect(w.lost).toBe(0);
  });
});
