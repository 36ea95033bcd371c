/** `droptrace`: the live stream, text or NDJSON, until Ctrl-C, --duration or --count. */

import { Enricher } from '../enrich.js';
import type { DroptraceRecord, LostRecord, StopRecord, TraceEvent } from '../events.js';
import { ndjsonLines } from '../output/ndjson.js';
import { summaryText } from '../output/summary.js';
import { lostLine, textLine } from '../output/text.js';
import { type ContainerOptions, openSession } from './prepare.js';

/** Records per write: about 64 KiB of NDJSON. */
const WRITE_CHUNK = 96;

export interface StreamOptions extends ContainerOptions {
  json?: boolean;
  duration?: number;
  count?: number;
  all?: boolean;
  attach?: 'auto' | 'tp_btf' | 'tracepoint';
}

export interface StreamIO {
  out: NodeJS.WritableStream & { writableNeedDrain?: boolean };
  err: NodeJS.WritableStream;
  color: boolean;
}

export async function stream(opts: StreamOptions, io: StreamIO): Promise<StopRecord> {
  const { prepared, session } = await openSession(opts, io.err, { attach: opts.attach });
  const json = Boolean(opts.json);
  const enricher = new Enricher({ attribute: prepared.attribute });
  const byContainer: Record<string, number> = {};
  let shown = 0;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });

  let draining = false;
  const write = (chunk: string) => {
    if (!chunk || io.out.write(chunk) || draining) return;
    // stdout is behind: stop draining the ring; what the kernel cannot keep is counted and reported
    draining = true;
    session.pause(true);
    io.out.once('drain', () => {
      draining = false;
      session.pause(false);
    });
  };
  const line = (r: DroptraceRecord) => `${r.type === 'lost' ? lostLine(r as LostRecord) : textLine(r as TraceEvent, io)}\n`;
  const emit = (records: DroptraceRecord[]) => {
    // chunks well under V8's large-object size: a megabyte string per batch would live in
    // large-object space until a full GC, and a storm makes one every few milliseconds
    for (let i = 0; i < records.length; i += WRITE_CHUNK) {
      const chunk = records.slice(i, i + WRITE_CHUNK);
      write(json ? ndjsonLines(chunk) : chunk.map(line).join(''));
    }
  };

  session.start({
    events(events) {
      for (const e of events) enricher.apply(e);
      let visible = opts.all ? events : events.filter((e) => e.type !== 'drop' || !e.benign);
      if (opts.count !== undefined && shown + visible.length >= opts.count) {
        visible = visible.slice(0, opts.count - shown);
        finish();
      }
      shown += visible.length;
      for (const e of visible) {
        const name = e.container?.name ?? 'host';
        byContainer[name] = (byContainer[name] ?? 0) + 1;
      }
      emit(visible);
    },
    lost(record) {
      emit([record]);
    },
  });
  // written once attached (batches reach JS only after this tick): `start` means streaming
  const start = session.startRecord();
  if (json) write(ndjsonLines([start]));
  else
    io.err.write(
      `droptrace ${start.droptrace_version}: tracing drops and retransmits (${start.program}, kernel ${start.kernel}); Ctrl-C to stop\n`,
    );

  const onSignal = () => finish();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  io.out.on('error', onSignal); // EPIPE: the reader went away
  const timer = opts.duration !== undefined ? setTimeout(finish, opts.duration * 1000) : undefined;
  await done;
  clearTimeout(timer);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);

  const stop = { ...session.stop(), by_container: byContainer };
  prepared.close();
  if (json) write(ndjsonLines([stop]));
  io.err.write(summaryText(stop, session.stats()));
  return stop;
}
