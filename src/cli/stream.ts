/** `droptrace`: the live stream, text or NDJSON, until Ctrl-C, --duration or --count. */
import { auditText, containerOfNetns, startAudit } from '../audit/index.js';
import { countKey, type DroptraceRecord, type StopRecord } from '../events.js';
import { escapeLines } from '../output/escape.js';
import { ndjsonBytes } from '../output/ndjson.js';
import { summaryText } from '../output/summary.js';
import { suppressedLine } from '../output/suppressed.js';
import { lostLine, textLine } from '../output/text.js';
import type { Pipeline } from '../pipeline.js';
import type { Selection } from '../selection.js';
import { openPipeline } from './open.js';
import { DEFAULT_RATE_LIMIT } from './rate-limit.js';
import { finishStream, RecordWriter, STOP_DECODE_MS, STOP_EVIDENCE_MS } from './record-writer.js';
import { onOutputClosed } from './stdout.js';
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

  const width = () => (io.fit ? (io.out as NodeJS.WriteStream).columns || 80 : undefined);
  const line = (r: DroptraceRecord) => {
    if (r.type === 'lost') return `${lostLine(r, width())}\n`;
    if (r.type === 'suppressed') return `${suppressedLine(r)}\n`;
    return r.type === 'drop' || r.type === 'retransmit' || r.type === 'connect_error'
      ? `${textLine(r, { color: io.color, width: width() })}\n`
      : '';
  };
  const format = (records: DroptraceRecord[]) => (json ? ndjsonBytes(records) : records.map(line).join(''));
  // a slow or stopped reader: events are dropped and counted here, loss records go out at once
  const writer = new RecordWriter(io.out, {
    // stdout is behind: stop draining the ring; what the kernel cannot keep is counted and reported
    onBackpressure: (behind) => pipeline.pause(behind),
    onLost: (r) => writer.control(format([{ ...r, time: pipeline.session.clock.now() }])),
  });
  const emit = (records: DroptraceRecord[]) => {
    // chunks well under V8's large-object size: a megabyte string per batch would live in
    // large-object space until a full GC, and a storm makes one every few milliseconds
    for (let i = 0; i < records.length; i += WRITE_CHUNK) {
      const chunk = records.slice(i, i + WRITE_CHUNK);
      writer.events(() => format(chunk), chunk.length);
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
      writer.control(format([record]));
    },
    // the text stream has these on stderr already (the pipeline's log)
    warning(record) {
      if (json) writer.control(format([record]));
    },
    netnsGone(record) {
      if (json) writer.control(format([record]));
    },
    containerState(record) {
      if (json) writer.control(format([record]));
    },
    suppressed(record) {
      if (record.event === 'drop' && benignKeys.has(countKey(record.netns, record.reason, record.location))) return;
      // accounting, like lost records: never queued behind events nor dropped with them
      writer.control(format([record]));
    },
  });
  // written once attached (batches reach JS only after this tick): `start` means streaming
  const start = pipeline.startRecord();
  if (json) writer.control(format([start]));
  else
    io.err.write(
      `droptrace ${start.droptrace_version}: tracing drops and retransmits (${start.program}, kernel ${start.kernel}); Ctrl-C to stop\n`,
    );

  const offClosed = onOutputClosed(io.out, () => wait.done()); // EPIPE: the reader went away
  await wait.stopped;
  offClosed();

  await audit.finish();
  // Ctrl-C ends the process within a second: a bounded time for what was in flight, for the
  // evidence of held netfilter drops, then for the reader
  const kernelStop = pipeline.stop({ budgetMs: STOP_DECODE_MS });
  await pipeline.drained(STOP_EVIDENCE_MS);
  const audits = audit.records(pipeline.counts(), pipeline.retransmitCounts(), containerOfNetns(pipeline));
  if (json && audits.length) writer.control(format(audits));
  const stop = await finishStream(kernelStop, writer, json, io);
  stop.by_container = byContainer;
  io.err.write(summaryText(stop, pipeline.stats()));
  io.err.write(escapeLines(auditText(audits, (r) => r.container?.name ?? pipeline.nameOf(r.netns) ?? `netns:${r.netns}`)));
  return stop;
}
