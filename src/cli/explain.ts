/** `droptrace explain`: trace for a while, then the findings ranked by count, with their evidence. */
import { Enricher } from '../enrich.js';
import { FindingsBuilder, findingsText } from '../explain/findings.js';
import { netnsNames } from '../kernel/netns.js';
import { Session } from '../session.js';
import { type FilterOptions, filterFromOptions } from './options.js';

export interface ExplainOptions extends FilterOptions {
  duration: number;
  json?: boolean;
}

export async function explain(opts: ExplainOptions, io: { out: NodeJS.WritableStream; err: NodeJS.WritableStream }): Promise<void> {
  const session = Session.open({ filter: filterFromOptions(opts) });
  const enricher = new Enricher();
  const names = netnsNames();
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
  const { findings, retransmits } = builder.result();
  if (opts.json) {
    io.out.write(findings.map((f) => `${JSON.stringify(f)}\n`).join(''));
    io.out.write(`${JSON.stringify(stop)}\n`);
  } else {
    io.out.write(findingsText(findings, retransmits, opts.duration));
    if (stop.lost) io.out.write(`(${stop.lost} events were lost: counts above are low; the kernel counted ${stop.drops} drops in all)\n`);
  }
}
