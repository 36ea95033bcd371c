/**
 * `droptrace serve`: the node agent. NDJSON records on stdout for the cluster's log pipeline and,
 * from the same pipeline, Prometheus metrics from the in-kernel counters on --metrics.
 */
import { podMembers } from '../containers/pod-names.js';
import { DropMetrics } from '../metrics/drop-metrics.js';
import { DEFAULT_METRICS_ADDRESS, MetricsServer, parseMetricsAddress } from '../metrics/server.js';
import type { Pipeline } from '../pipeline.js';
import { droptraceVersion } from '../version.js';
import { type StreamOptions, stream } from './stream.js';

/** Counters are brought up to date at every scrape and at least this often, so owners are seen before pods go. */
const REFRESH_MS = 1000;

export interface ServeOptions extends Omit<StreamOptions, 'json' | 'count'> {
  metrics: string;
  /** Seconds the series of a pod that is gone are kept. */
  grace: number;
}

export async function serve(opts: ServeOptions, io: { out: NodeJS.WritableStream; err: NodeJS.WritableStream }): Promise<void> {
  // the address is checked and bound before anything is loaded: a port in use fails at once
  const address = parseMetricsAddress(opts.metrics ?? DEFAULT_METRICS_ADDRESS);
  let metrics: DropMetrics | null = null;
  const server = await MetricsServer.listen(address, {
    scrape: () => (metrics ? metrics.scrape() : Promise.reject(new Error('starting'))),
    get contentType() {
      return metrics?.contentType ?? 'text/plain';
    },
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await stream(
      { ...opts, json: true },
      {
        out: io.out,
        err: io.err,
        color: false,
        tap: {
          opened(pipeline: Pipeline) {
            metrics = new DropMetrics(
              {
                counts: () => pipeline.counts(),
                retransmitCounts: () => pipeline.retransmitCounts(),
                stats: () => pipeline.stats(),
                ownerOf: (netns) => pipeline.index.byNetns(netns),
                running: (o) =>
                  o.pod
                    ? podMembers(pipeline.index.list(), { namespace: o.namespace, name: o.pod }).length > 0
                    : pipeline.index.running().some((c) => c.name === o.container && c.pod === undefined),
              },
              { version: droptraceVersion(), program: pipeline.startRecord().program, graceMs: opts.grace * 1000 },
            );
            const m = metrics;
            timer = setInterval(() => m.refresh(), REFRESH_MS);
            timer.unref();
            io.err.write(`droptrace: metrics on ${server.url}\n`);
          },
        },
      },
    );
  } finally {
    clearInterval(timer);
    await server.close();
  }
}
