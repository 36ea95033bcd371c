/** `droptrace`: the live stream, text or NDJSON, until Ctrl-C, --duration or --count. */
import { auditText, containerOfNetns, startAudit } from '../audit/index.js';
import { countKey, type DroptraceRecord, type StopRecord } from '../events.js';
import { ndjsonLines } from '../output/ndjson.js';
import { summaryText } from '../output/summary.js';
import { suppressedLine } from '../output/suppressed.js';
import { lostLine, textLine } from '../output/text.js';
import type { Pipeline } from '../pipeline.js';
import type { Selection } from '../selection.js';
import { openPipeline } from './open.js';
import { DEFAULT_RATE_LIMIT } from './rate-limit.js';
import { untilStopped } from './until-stopped.js';

/** Records per write: about 64 KiB of NDJSON. */
const WRITE_CHUNK = 96;

export interface StreamOptions extends Selection {
  json?: boolean;
  duration?: number;
  count?: number;
  all?: boolean;
  attach?: 'auto' | 'tp_btf' | 'tracepoint';
  rateLimit?: number;
}

export interface StreamIO {
  out: NodeJS.WritableStream & { writableNeedDrain?: boolean };
  err: NodeJS.WritableStream;
  color: boolean;
  /** Fit each line to the terminal's width, read per line (it changes on resize). */
  fit?: boolean;
  /** Another consumer of the same pipeline (serve's metrics): sees the pipeline once it is open. */
  tap?: StreamTap;
}

export interface StreamTap {
  opened(pipeline: Pipeline): void;
}

export async function stream(opts: StreamOptions, io: StreamIO): Promise<StopRecord> {
  const json = Boolean(opts.json);
  const rateLimit = opts.rateLimit ?? (json ? DEFAULT_RATE_LIMIT.json : DEFAULT_RATE_LIMIT.text);
  const pipeline = await openPipeline(opts, io.err, { attach: opts.attach, rateLimit });
  // the namespaces' own counters, read before attaching: the audit record says what they counted that the stream did not
  const { audit, unreadable } = await startAudit(pipeline, () => pipeline.session.clock.now());
  for (const n of unreadable) io.err.write(`droptrace: warning: cannot read the counters of netns ${n}; it is not audited\n`);
  io.tap?.opened(pipeline);
  const byContainer: Record<string, number> = {};
  // kinds of drop hidden as benign: what the rate limit held back of them stays hidden too
  const benignKeys = new Set<string>();
  let shown = 0;

  let draining = false;
  const write = (chunk: string) => {
    if (!chunk || io.out.write(chunk) || draining) return;
    // stdout is behind: stop draining the ring; what the kernel cannot keep is counted and reported
    draining = true;
    pipeline.pause(true);
    io.out.once('drain', () => {
      draining = false;
      pipeline.pause(false);
    });
  };
  const width = () => (io.fit ? (io.out as NodeJS.WriteStream).columns || 80 : undefined);
  const line = (r: DroptraceRecord) => {
    if (r.type === 'lost') return `${lostLine(r, width())}\n`;
    if (r.type === 'suppressed') return `${suppressedLine(r)}\n`;
    return r.type === 'drop' || r.type === 'retransmit' || r.type === 'connect_error'
      ? `${textLine(r, { color: io.color, width: width() })}\n`
      : '';
  };
  const emit = (records: DroptraceRecord[]) => {
    // chunks well under V8's large-object size: a megabyte string per batch would live in
    // large-object space until a full GC, and a storm makes one every few milliseconds
    for (let i = 0; i < records.length; i += WRITE_CHUNK) {
      const chunk = records.slice(i, i + WRITE_CHUNK);
      write(json ? ndjsonLines(chunk) : chunk.map(line).join(''));
    }
  };

  // armed before attaching: a Ctrl-C at any moment from here on stops cleanly
  const wait = untilStopped(opts.duration);
  pipeline.start({
    events(events) {
      for (const e of events) audit.note(e);
      if (!opts.all) {
        for (const e of events) if (e.type === 'drop' && e.benign) benignKeys.add(countKey(e.netns, e.reason, e.location));
      }
      let visible = opts.all ? events : events.filter((e) => e.type !== 'drop' || !e.benign);
      if (opts.count !== undefined && shown + visible.length >= opts.count) {
        visible = visible.slice(0, opts.count - shown);
        wait.done();
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
    suppressed(record) {
      if (record.event === 'drop' && benignKeys.has(countKey(record.netns, record.reason, record.location))) return;
      emit([record]);
    },
  });
  // written once attached (batches reach JS only after this tick): `start` means streaming
  const start = pipeline.startRecord();
  if (json) write(ndjsonLines([start]));
  else
    io.err.write(
      `droptrace ${start.droptrace_version}: tracing drops and retransmits (${start.program}, kernel ${start.kernel}); Ctrl-C to stop\n`,
    );

  const onError = () => wait.done(); // EPIPE: the reader went away
  io.out.on('error', onError);
  await wait.stopped;
  io.out.off('error', onError);

  await audit.finish();
  const stopped = pipeline.stop();
  await pipeline.drained();
  const stop = { ...stopped, by_container: byContainer };
  const audits = audit.records(pipeline.counts(), containerOfNetns(pipeline));
  if (json) write(ndjsonLines([...audits, stop]));
  io.err.write(summaryText(stop, pipeline.stats()));
  io.err.write(auditText(audits, (r) => r.container?.name ?? pipeline.nameOf(r.netns) ?? `netns:${r.netns}`));
  return stop;
}
