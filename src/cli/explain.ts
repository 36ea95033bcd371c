/** `droptrace explain`: trace for a while, then the findings ranked by count, with their evidence. */

import { FindingsBuilder, findingsText } from '../explain/findings.js';
import type { Selection } from '../selection.js';
import { openPipeline } from './open.js';
import { untilStopped } from './until-stopped.js';

export interface ExplainOptions extends Selection {
  duration: number;
  json?: boolean;
}

export async function explain(opts: ExplainOptions, io: { out: NodeJS.WritableStream; err: NodeJS.WritableStream }): Promise<void> {
  const pipeline = await openPipeline(opts, io.err);
  const builder = new FindingsBuilder((netns) => pipeline.nameOf(netns));
  const wait = untilStopped(opts.duration);
  pipeline.start({
    events(events) {
      for (const e of events) builder.add(e);
    },
    lost() {},
  });
  const start = pipeline.startRecord();
  if (opts.json) io.out.write(`${JSON.stringify(start)}\n`);
  io.err.write(`droptrace explain: tracing for ${opts.duration} s…\n`);
  await wait.stopped;
  const stop = pipeline.stop();
  const { findings, retransmits } = builder.result();
  if (opts.json) {
    io.out.write(findings.map((f) => `${JSON.stringify(f)}\n`).join(''));
    io.out.write(`${JSON.stringify(stop)}\n`);
  } else {
    io.out.write(findingsText(findings, retransmits, opts.duration));
    if (stop.lost) io.out.write(`(${stop.lost} events were lost: counts above are low; the kernel counted ${stop.drops} drops in all)\n`);
  }
}
