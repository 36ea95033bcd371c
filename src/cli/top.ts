/**
 * `droptrace top`: counts only. The kernel counts drops by (netns, reason, location) and
 * retransmits by (netns, kind) and streams nothing, so a storm costs a map update per drop; the
 * table is redrawn from those counters, named for people: the container, the layer and component,
 * the reason. On a terminal it fits the window and redraws in place; piped, one block per interval.
 */
import { auditText, containerOfNetns, startAudit } from '../audit/index.js';
import { describeDrop } from '../classify/index.js';
import type { AuditRecord, CountsRecord, Layer } from '../events.js';
import { hostName } from '../host.js';
import { netnsOfPid } from '../kernel/netns.js';
import { colourWanted } from '../output/colour.js';
import { escapeTerminal } from '../output/escape.js';
import { jsonLine } from '../output/ndjson.js';
import { groupCounts, renderTop, type TopBy, type TopCount, type TopRow, type TopView } from '../output/top-table.js';
import type { Pipeline } from '../pipeline.js';
import { RuleLabels } from '../readers/rule-labels.js';
import type { Selection } from '../selection.js';
import { openPipeline } from './open.js';
import { onOutputClosed, writeOut } from './stdout.js';
import { untilStopped } from './until-stopped.js';

export interface TopOptions extends Selection {
  interval: number;
  duration?: number;
  json?: boolean;
  all?: boolean;
  by: TopBy;
}

export interface TopIO {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

/** The counters, each named: where (container, `ip netns` name, `host`, or netns:<inode>), layer/component, reason. */
function namedCounts(pipeline: Pipeline, labels: RuleLabels): TopCount[] {
  const names = new Map<number, string>();
  let host: number | undefined;
  try {
    host = netnsOfPid('1');
  } catch {
    // no /proc/1 to read: the host's namespace goes by its inode
  }
  const where = (netns: number) => {
    let n = names.get(netns);
    if (n === undefined) {
      n = pipeline.nameOf(netns) ?? (netns === host ? 'host' : `netns:${netns}`);
      names.set(netns, n);
    }
    return n;
  };
  const out: TopCount[] = [];
  for (const r of pipeline.counts()) {
    const d = describeDrop(r.reason, r.location);
    // the tool the namespace's drop rules were written with, as the stream names a rule's component
    if (r.reason === 'NETFILTER_DROP' && d.component === 'nftables') d.component = labels.labelOf(r.netns) ?? d.component;
    out.push({
      netns: r.netns,
      where: where(r.netns),
      layer: `${d.layer}/${d.component}`,
      reason: r.reason,
      location: r.location,
      benign: d.benign,
      detected_by: r.detected_by,
      count: r.count,
    });
  }
  for (const r of pipeline.session.retransmitCounts()) {
    out.push({
      netns: r.netns,
      where: where(r.netns),
      layer: 'transport/tcp',
      reason: `RETRANSMIT/${r.kind}`,
      location: '-',
      benign: false,
      retransmit: r.kind,
      count: r.count,
    });
  }
  return out;
}

export async function top(opts: TopOptions, io: TopIO): Promise<void> {
  const pipeline = await openPipeline(opts, io.err, { emit: false });
  const session = pipeline.session;
  const tty = io.out as NodeJS.WriteStream;
  const onTty = Boolean(tty.isTTY) && !opts.json;
  const colour = !opts.json && colourWanted(io.out);
  // a NETFILTER_DROP row is shown once its namespace's ruleset says which tool wrote its rules
  const labels = new RuleLabels();
  // the namespaces' own counters from before attaching, held against the kernel-side counts every interval
  const { audit, unreadable } = await startAudit(pipeline, () => session.clock.now());
  for (const n of unreadable) io.err.write(`droptrace: warning: cannot read the counters of netns ${n}; it is not audited\n`);
  const containerOf = containerOfNetns(pipeline);
  // undefined until the first reading after attaching
  let audits: AuditRecord[] | undefined;
  let auditing: Promise<void> | undefined;
  // off the redraw path: a namespace entered with nsenter can be slow, and the table must not wait
  const readAudit = (): Promise<void> => {
    auditing ??= audit
      .finish()
      .then(() => {
        // counting only: no events name a device, so the device rows are left out
        audits = audit.records(pipeline.counts(), pipeline.retransmitCounts(), containerOf, false);
      })
      .catch(() => {
        // a reading that failed keeps the last one; the next interval tries again
      })
      .finally(() => {
        auditing = undefined;
      });
    return auditing;
  };
  const wait = untilStopped(opts.duration);
  pipeline.start({ events() {}, lost() {} });
  if (opts.json) writeOut(io.out, jsonLine(pipeline.startRecord()));
  else if (!onTty) io.err.write('droptrace top: counting drops in the kernel; Ctrl-C to stop\n');

  const started = Date.now();
  let last = { at: started, groups: new Map<string, number>(), drops: 0, retransmits: 0 };
  let view: TopView | undefined;

  const sample = (): TopView => {
    const now = Date.now();
    const seconds = Math.max(0.001, (now - last.at) / 1000);
    const counts = namedCounts(pipeline, labels);
    const stats = pipeline.stats();
    const groups = groupCounts(opts.all ? counts : counts.filter((c) => !c.benign), opts.by);
    const hidden = opts.all
      ? 0
      : groupCounts(
          counts.filter((c) => c.benign),
          opts.by,
        ).size;
    const rows: TopRow[] = [];
    const next = new Map<string, number>();
    for (const [key, g] of groups) {
      rows.push({ cells: g.cells, count: g.count, rate: (g.count - (last.groups.get(key) ?? 0)) / seconds, benign: g.benign });
      next.set(key, g.count);
    }
    const drops = stats.matched - stats.retransmits - stats.connects;
    const v: TopView = {
      by: opts.by,
      clock: new Date(now).toISOString().slice(11, 19),
      elapsed: (now - started) / 1000,
      interval: opts.interval,
      drops,
      dropRate: (drops - last.drops) / seconds,
      retransmits: stats.retransmits,
      retransmitRate: (stats.retransmits - last.retransmits) / seconds,
      lost: stats.lost,
      // rate-limited events held back in the kernel, where the session reports them
      suppressed: (stats as { suppressed?: number }).suppressed ?? 0,
      uncounted: stats.counterFull,
      hiddenBenign: hidden,
      // counter names and namespace names come from the system: escaped like every cell
      audit:
        audits && escapeTerminal(auditText(audits, (r) => r.container?.name ?? pipeline.nameOf(r.netns) ?? `netns:${r.netns}`).trimEnd()),
      rows,
    };
    last = { at: now, groups: next, drops, retransmits: stats.retransmits };
    if (opts.json) {
      const record: CountsRecord = {
        type: 'counts',
        time: session.clock.now(),
        host: hostName(),
        drops,
        retransmits: stats.retransmits,
        lost: stats.lost,
        rows: counts
          .filter((c) => !c.retransmit)
          .map((c) => {
            const [layer, component] = c.layer.split('/') as [Layer, string];
            return {
              netns: c.netns,
              where: c.where,
              reason: c.reason,
              location: c.location,
              layer,
              component,
              benign: c.benign,
              // SYNs refused at a full queue, counted apart by queue
              ...(c.detected_by && c.detected_by !== 'kfree_skb' ? { detected_by: c.detected_by } : {}),
              count: c.count,
            };
          }),
        retransmit_rows: counts
          .filter((c) => c.retransmit)
          .map((c) => ({ netns: c.netns, where: c.where, kind: c.retransmit as NonNullable<TopCount['retransmit']>, count: c.count })),
      };
      writeOut(io.out, jsonLine(record));
      for (const a of audits ?? []) writeOut(io.out, jsonLine(a));
    }
    return v;
  };

  const paintView = () => {
    if (!view || opts.json) return;
    if (onTty) {
      const lines = renderTop(view, { width: tty.columns || 80, height: tty.rows || 24, colour });
      // home, each line cleared to its end, the rest of the screen cleared: no flicker, no scroll
      writeOut(io.out, `\x1b[H${lines.map((l) => `${l}\x1b[K`).join('\n')}\x1b[J`);
    } else {
      writeOut(io.out, `${renderTop(view, { colour }).join('\n')}\n\n`);
    }
  };

  const onResize = () => paintView();
  if (onTty) {
    writeOut(io.out, '\x1b[2J');
    view = sample();
    paintView();
    tty.on('resize', onResize);
  }
  let busy = false;
  const timer = setInterval(async () => {
    if (busy) return; // a ruleset read is slow: skip a tick rather than stack them
    busy = true;
    void readAudit(); // this frame shows the last reading
    try {
      await labels.ensure(pipeline.counts());
    } catch {
      // the rule labels stay as they were; the counts are drawn anyway
    } finally {
      busy = false;
    }
    view = sample();
    paintView();
  }, opts.interval * 1000);
  // the reader went away (| head -1): nothing left to show
  const offClosed = onOutputClosed(io.out, () => wait.done());
  await wait.stopped;
  offClosed();
  clearInterval(timer);
  // the last reading while still attached (what the counters hold was traceable): a fresh one,
  // after any still running from before the stop
  if (auditing) await auditing;
  await Promise.all([labels.ensure(pipeline.counts()), readAudit()]);
  if (onTty) tty.off('resize', onResize);
  // the last frame's rates are over the whole run: the moment since the last tick says nothing
  last = { at: started, groups: new Map(), drops: 0, retransmits: 0 };
  view = sample();
  paintView();
  if (onTty) writeOut(io.out, '\n');
  const stop = pipeline.stop();
  if (opts.json) writeOut(io.out, jsonLine(stop));
}
