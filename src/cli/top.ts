/**
 * `droptrace top`: counts only. The kernel counts by (netns, reason, location) and streams
 * nothing, so a storm costs a map update per drop; the table is redrawn from the counters.
 */
import type { CountsRecord } from '../events.js';
import { escapeTerminal as esc } from '../output/escape.js';
import { jsonLine } from '../output/ndjson.js';
import type { Selection } from '../selection.js';
import type { DropCount } from '../session.js';
import { openPipeline } from './open.js';
import { onOutputClosed, writeOut } from './stdout.js';
import { untilStopped } from './until-stopped.js';

export interface TopOptions extends Selection {
  interval: number;
  duration?: number;
  json?: boolean;
}

function table(rows: DropCount[], previous: Map<string, number>, seconds: number): string {
  const head = `${'NETNS'.padEnd(12)} ${'REASON'.padEnd(24)} ${'LOCATION'.padEnd(36)} ${'COUNT'.padStart(12)} ${'RATE/s'.padStart(10)}`;
  const lines = rows.slice(0, 30).map((r) => {
    const key = `${r.netns}/${r.reason}/${r.location}`;
    const rate = (r.count - (previous.get(key) ?? 0)) / seconds;
    return `${String(r.netns).padEnd(12)} ${esc(r.reason).padEnd(24)} ${esc(r.location).padEnd(36)} ${String(r.count).padStart(12)} ${rate.toFixed(0).padStart(10)}`;
  });
  return [head, ...lines].join('\n');
}

export async function top(opts: TopOptions, io: { out: NodeJS.WritableStream; err: NodeJS.WritableStream; tty: boolean }): Promise<void> {
  const pipeline = await openPipeline(opts, io.err, { emit: false });
  const session = pipeline.session;
  const wait = untilStopped(opts.duration);
  pipeline.start({ events() {}, lost() {} });
  if (opts.json) writeOut(io.out, jsonLine(pipeline.startRecord()));
  else io.err.write('droptrace top: counting drops in the kernel; Ctrl-C to stop\n');
  const previous = new Map<string, number>();
  const draw = () => {
    const rows = session.counts();
    if (opts.json) {
      const record: CountsRecord = { type: 'counts', time: session.clock.now(), rows };
      writeOut(io.out, jsonLine(record));
    } else {
      writeOut(io.out, `${io.tty ? '\x1b[H\x1b[2J' : ''}${table(rows, previous, opts.interval)}\n\n`);
    }
    previous.clear();
    for (const r of rows) previous.set(`${r.netns}/${r.reason}/${r.location}`, r.count);
  };
  const timer = setInterval(draw, opts.interval * 1000);
  // the reader went away (| head -1): nothing left to show
  const offClosed = onOutputClosed(io.out, () => wait.done());
  await wait.stopped;
  offClosed();
  clearInterval(timer);
  draw();
  const stop = pipeline.stop();
  if (opts.json) writeOut(io.out, jsonLine(stop));
}
