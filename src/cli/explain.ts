/** `droptrace explain`: trace for a while, then the findings ranked by count, with their evidence. */

import { auditText, containerOfNetns, startAudit } from '../audit/index.js';
import { FindingsBuilder, findingsText } from '../explain/findings.js';
import { escapeLines } from '../output/escape.js';
import { jsonLine, ndjsonBytes } from '../output/ndjson.js';
import type { Selection } from '../selection.js';
import { showProgress } from './explain-progress.js';
import { openPipeline } from './open.js';
import { DEFAULT_RATE_LIMIT } from './rate-limit.js';
import { writeOut } from './stdout.js';
import { untilStopped } from './until-stopped.js';

export interface ExplainOptions extends Selection {
  duration: number;
  json?: boolean;
  rateLimit?: number;
}

export async function explain(opts: ExplainOptions, io: { out: NodeJS.WritableStream; err: NodeJS.WritableStream }): Promise<void> {
  const pipeline = await openPipeline(opts, io.err, { rateLimit: opts.rateLimit ?? DEFAULT_RATE_LIMIT.explain });
  const builder = new FindingsBuilder((netns) => pipeline.nameOf(netns));
  const { audit, unreadable } = await startAudit(pipeline, () => pipeline.session.clock.now());
  for (const n of unreadable) io.err.write(`droptrace: warning: cannot read the counters of netns ${n}; it is not audited\n`);
  const wait = untilStopped(opts.duration);
  pipeline.start({
    events(events) {
      for (const e of events) {
        audit.note(e);
        builder.add(e);
      }
    },
    lost() {},
    suppressed(record) {
      builder.addSuppressed(record);
    },
  });
  const start = pipeline.startRecord();
  if (opts.json) writeOut(io.out, jsonLine(start));
  io.err.write(`droptrace explain: tracing for ${opts.duration} s…\n`);
  const started = Date.now();
  const hideProgress = showProgress(io.err, builder, opts.duration);
  const cause = await wait.stopped;
  hideProgress();
  // the time actually traced: Ctrl-C before the end reports what was seen in that time
  const traced = Math.round((Date.now() - started) / 100) / 10;
  if (cause !== 'duration') io.err.write(`droptrace explain: stopped after ${traced} s of ${opts.duration} s\n`);
  await audit.finish();
  const stop = pipeline.stop();
  await pipeline.drained();
  const audits = audit.records(pipeline.counts(), pipeline.retransmitCounts(), containerOfNetns(pipeline));
  const { findings, retransmits, connects } = builder.result();
  if (opts.json) {
    writeOut(io.out, ndjsonBytes([...findings, ...audits, stop]));
  } else {
    writeOut(io.out, findingsText(findings, retransmits, cause === 'duration' ? opts.duration : traced, undefined, connects));
    // the kernel's counters by device and namespace: names from /proc/net/dev and containers
    writeOut(io.out, escapeLines(auditText(audits, (r) => r.container?.name ?? pipeline.nameOf(r.netns) ?? `netns:${r.netns}`)));
    if (stop.lost)
      writeOut(io.out, `(${stop.lost} events were lost: counts above are low; the kernel counted ${stop.drops} drops in all)\n`);
  }
}
