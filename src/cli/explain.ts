/** `droptrace explain`: trace for a while, then the findings ranked by count, with their evidence. */

import { listNetnsNames } from '../containers/netns-names.js';
import { Enricher } from '../enrich.js';
import { FindingsBuilder, findingsText } from '../explain/findings.js';
import { type ContainerOptions, openSession } from './prepare.js';

export interface ExplainOptions extends ContainerOptions {
  duration: number;
  json?: boolean;
}

export async function explain(opts: ExplainOptions, io: { out: NodeJS.WritableStream; err: NodeJS.WritableStream }): Promise<void> {
  const { prepared, session } = await openSession(opts, io.err);
  const enricher = new Enricher({ attribute: prepared.attribute });
  const names = new Map(listNetnsNames().map((n) => [n.inode, n.name]));
  const builder = new FindingsBuilder((netns) => names.get(netns));
  session.start({
    events(events) {
      for (const e of events) {
        enricher.apply(e);
        builder.add(e);
      }
    },
    lost() {},
  });
  const start = session.startRecord();
  if (opts.json) io.out.write(`${JSON.stringify(start)}\n`);
  io.err.write(`droptrace explain: tracing for ${opts.duration} s…\n`);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, opts.duration * 1000);
    const early = () => {
      clearTimeout(timer);
      resolve();
    };
    process.once('SIGINT', early);
    process.once('SIGTERM', early);
  });
  const stop = session.stop();
  prepared.close();
  const { findings, retransmits } = builder.result();
  if (opts.json) {
    io.out.write(findings.map((f) => `${JSON.stringify(f)}\n`).join(''));
    io.out.write(`${JSON.stringify(stop)}\n`);
  } else {
    io.out.write(findingsText(findings, retransmits, opts.duration));
    if (stop.lost) io.out.write(`(${stop.lost} events were lost: counts above are low; the kernel counted ${stop.drops} drops in all)\n`);
  }
}
