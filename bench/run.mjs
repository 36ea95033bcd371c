// The drop-storm bench: conditions interleaved A B C … A B C … over N rounds, each round one storm
// per condition, drops counted by the iptables rule, ratios against the untraced median of this run.
//
//   node bench/run.mjs [--rounds 3] [--duration 5] [--cpu N] [--only a,b] [--hosts quiet,busy]
//                      [--netns dtbench-xxxx] [--out file]
//
// --hosts: `quiet` runs each storm as is; `busy` adds a CPU-bound process on every CPU but the
// storm's, competing with the tracer, as on a node in trouble. Rounds interleave the hosts too.
// kernel.bpf_stats_enabled is on for the whole run (restored at exit), so every tracer's in-kernel
// cost per program run is read from its own BPF program fds.
//
// Needs root and bench/.output/storm (bench/run.sh builds it). With --netns it uses namespaces that
// bench/netns.sh already set up (and leaves them); without, it sets up its own and tears them down.

import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { conditions, readSmall } from './conditions.mjs';
import {
  benchSession,
  bpfProgStats,
  CLK_TCK,
  cpuTicks,
  dropCounter,
  enableBpfStats,
  ensureTracefs,
  fmt,
  markdownTable,
  median,
  netnsExists,
  netnsInfo,
  netnsUp,
  outDir,
  randomName,
  runStorm,
  sleep,
  startCompetitor,
  Tracer,
  which,
} from './lib.mjs';

const PORT = 9;

const { values: opt } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    cpu: { type: 'string', default: String(availableParallelism() - 1) },
    only: { type: 'string' },
    hosts: { type: 'string', default: 'quiet' },
    netns: { type: 'string' },
    out: { type: 'string', default: join(outDir, 'results.json') },
  },
});
const rounds = Number(opt.rounds);
const duration = Number(opt.duration);
const cpu = Number(opt.cpu);
const hosts = opt.hosts.split(',');
if (!hosts.every((h) => h === 'quiet' || h === 'busy')) {
  console.error('run.mjs: --hosts takes quiet, busy or both');
  process.exit(2);
}
if (!(rounds >= 1 && duration > 0 && duration <= 120 && cpu >= 0)) {
  console.error('run.mjs: --rounds ≥ 1, 0 < --duration ≤ 120, --cpu ≥ 0');
  process.exit(2);
}
if (process.getuid?.() !== 0) {
  console.error('run.mjs: needs root (namespaces, iptables, BPF)');
  process.exit(2);
}

const ownNetns = !opt.netns;
const nsName = opt.netns ?? randomName();
if (!nsName.startsWith('dtbench-')) {
  console.error('run.mjs: --netns must start with dtbench-');
  process.exit(2);
}
const { scratch, removeScratch, cleanup } = benchSession('run.mjs', nsName, ownNetns);
if (which('bpftrace')) ensureTracefs('run.mjs');

/** One storm under one condition on one kind of host: returns the measurements, or {error}. */
async function runOnce(cond, ctx, host) {
  const argv = cond.argv(ctx);
  let tracer = null;
  const stdoutPath = cond.stdout === 'file' ? scratch(`${cond.name}.out`) : null;
  const stopCompetitor = host === 'busy' ? startCompetitor(cpu, availableParallelism()) : null;
  try {
    if (argv) {
      tracer = new Tracer(argv, { stdoutPath });
      await tracer.waitReady(cond.ready);
    }
    const ticks0 = tracer ? cpuTicks(tracer.pid) : null;
    const bpf0 = tracer ? bpfProgStats(tracer.pid) : null;
    const made0 = dropCounter(nsName, PORT);
    const storm = await runStorm(ctx.ns, { duration, cpu });
    const made1 = dropCounter(nsName, PORT);
    const ticks1 = tracer ? cpuTicks(tracer.pid) : null;
    const bpf1 = tracer ? bpfProgStats(tracer.pid) : null;
    const made = made1 - made0;
    const result = {
      condition: cond.name,
      host,
      made,
      storm_elapsed_s: storm.elapsed_s,
      sent: storm.sent,
      rate: made / storm.elapsed_s,
    };
    if (!tracer) return result;

    if (tracer.exit) throw new Error(`tracer exited during the storm (${JSON.stringify(tracer.exit)}): ${tracer.stderr.slice(-400)}`);
    result.tracer_cpu_pct = ticks0 !== null && ticks1 !== null ? ((ticks1 - ticks0) / CLK_TCK / storm.elapsed_s) * 100 : null;
    // every program the tracer holds: only the kfree_skb one runs in a UDP storm
    if (bpf0 && bpf1 && bpf1.run_cnt > bpf0.run_cnt) {
      result.bpf_runs = bpf1.run_cnt - bpf0.run_cnt;
      result.bpf_ns_per_run = (bpf1.run_time_ns - bpf0.run_time_ns) / result.bpf_runs;
    }
    if (cond.settleMs) await sleep(cond.settleMs);
    const exit = await tracer.stop();
    result.tracer_exit = exit;
    result.peak_rss_mb = tracer.hwm_kb !== null ? tracer.hwm_kb / 1024 : null;
    const out = {
      stdoutPath,
      stderr: tracer.stderr,
      get stdout() {
        return stdoutPath ? readSmall(stdoutPath) : '';
      },
    };
    const { delivered, lost, suppressed, lost_note, extra } = cond.read(out, ctx);
    result.delivered = delivered;
    result.lost = lost;
    if (suppressed !== undefined) result.suppressed = suppressed;
    if (lost_note) result.lost_note = lost_note;
    if (extra) result.extra = extra;
    if (delivered !== null) {
      result.delivered_per_s = delivered / storm.elapsed_s;
      // CPU time per event delivered: what a busy machine's scheduling does not change
      if (result.tracer_cpu_pct !== null && delivered > 0)
        result.cpu_us_per_event = ((result.tracer_cpu_pct / 100) * storm.elapsed_s * 1e6) / delivered;
      // what neither arrived nor was admitted lost; can dip below 0 for host-wide tracers (other drops)
      result.unreported_loss_pct = made > 0 ? ((made - delivered - (lost ?? 0) - (suppressed ?? 0)) / made) * 100 : null;
    }
    return result;
  } catch (err) {
    return { condition: cond.name, error: err.message };
  } finally {
    if (tracer && !tracer.exit) await tracer.stop();
    await stopCompetitor?.();
    removeScratch();
  }
}

/** ["0 chunks", "18 chunks"] → "0 / 18 chunks": one note per run, in round order. */
function joinNotes(notes) {
  if (notes.length === 0) return null;
  const unit = / (\S+)$/.exec(notes[0])?.[1];
  if (unit && notes.every((n) => n.endsWith(` ${unit}`))) return `${notes.map((n) => n.slice(0, -unit.length - 1)).join(' / ')} ${unit}`;
  return notes.join(' / ');
}

function summarise(runs, skipped) {
  const summary = [];
  for (const host of hosts) {
    const byName = new Map();
    for (const r of runs.filter((x) => x.host === host)) {
      if (!byName.has(r.condition)) byName.set(r.condition, []);
      byName.get(r.condition).push(r);
    }
    const ok = (rs) => rs.filter((r) => !r.error);
    const baseRate = median(ok(byName.get('untraced') ?? []).map((r) => r.rate));
    for (const cond of conditions) {
      if (skipped[cond.name]) {
        summary.push({ condition: cond.name, host, skipped: skipped[cond.name] });
        continue;
      }
      const rs = byName.get(cond.name) ?? [];
      const good = ok(rs);
      const rate = median(good.map((r) => r.rate));
      const lostValues = good.map((r) => r.lost).filter((x) => x !== null && x !== undefined);
      const suppressedValues = good.map((r) => r.suppressed).filter((x) => x !== null && x !== undefined);
      summary.push({
        condition: cond.name,
        host,
        runs: good.length,
        errors: rs.filter((r) => r.error).map((r) => r.error),
        rate,
        ratio: rate !== null && baseRate ? rate / baseRate : null,
        delivered_per_s: median(good.map((r) => r.delivered_per_s)),
        lost: lostValues.length ? median(lostValues) : null,
        suppressed: suppressedValues.length ? median(suppressedValues) : null,
        lost_note: joinNotes(good.map((r) => r.lost_note).filter(Boolean)),
        unreported_loss_pct: median(good.map((r) => r.unreported_loss_pct)),
        tracer_cpu_pct: median(good.map((r) => r.tracer_cpu_pct)),
        cpu_us_per_event: median(good.map((r) => r.cpu_us_per_event)),
        bpf_ns_per_run: median(good.map((r) => r.bpf_ns_per_run)),
        peak_rss_mb: good.length ? Math.max(...good.map((r) => r.peak_rss_mb ?? 0)) || null : null,
      });
    }
  }
  return summary;
}

function table(summary) {
  const headers = [
    'condition',
    'host',
    'runs',
    'storm drops/s',
    'vs untraced',
    'delivered/s',
    'lost reported',
    'suppressed',
    'unreported loss',
    'tracer CPU',
    'CPU µs/event',
    'in-kernel ns/run',
    'peak RSS',
  ];
  const rows = summary.map((s) => {
    if (s.skipped) return [s.condition, s.host, '0', `skipped: ${s.skipped}`, '', '', '', '', '', '', '', '', ''];
    if (s.runs === 0) return [s.condition, s.host, '0', `failed: ${s.errors[0]?.slice(0, 120) ?? ''}`, '', '', '', '', '', '', '', '', ''];
    return [
      s.condition,
      s.host,
      String(s.runs),
      fmt(s.rate),
      s.ratio !== null ? fmt(s.ratio, 2) : '–',
      fmt(s.delivered_per_s),
      s.lost !== null ? fmt(s.lost) : (s.lost_note ?? '–'),
      s.suppressed !== null ? fmt(s.suppressed) : '–',
      s.unreported_loss_pct !== null ? `${fmt(s.unreported_loss_pct, 1)} %` : '–',
      s.tracer_cpu_pct !== null ? `${fmt(s.tracer_cpu_pct, 0)} %` : '–',
      s.cpu_us_per_event !== null ? fmt(s.cpu_us_per_event, 2) : '–',
      s.bpf_ns_per_run !== null ? fmt(s.bpf_ns_per_run, 0) : '–',
      s.peak_rss_mb !== null ? `${fmt(s.peak_rss_mb, 0)} MB` : '–',
    ];
  });
  return markdownTable(headers, rows);
}

/** The targets, per host, from this run's medians: what is asked, what was measured, met or not. */
function targetsTable(summary) {
  const rows = [];
  for (const host of hosts) {
    const get = (name) => summary.find((s) => s.condition === name && s.host === host && !s.skipped && s.runs > 0) ?? null;
    const floor = get('floor');
    const btCount = get('bpftrace-count');
    const top = get('droptrace-top');
    const stream = get('droptrace-stream');
    const full = get('droptrace-full');
    const c = get('c-consumer');
    const check = (what, need, have, ok) => rows.push([host, what, need, have, ok === null ? '–' : ok ? 'met' : 'missed']);
    const r = (x) => ((x?.ratio ?? null) !== null ? fmt(x.ratio, 2) : '–');
    if (top && floor) check('top keeps ≥ floor − 0.03', `≥ ${fmt(floor.ratio - 0.03, 2)}`, r(top), top.ratio >= floor.ratio - 0.03);
    if (top && btCount) check('top keeps ≥ bpftrace count', `≥ ${r(btCount)}`, r(top), top.ratio >= btCount.ratio);
    if (stream && top)
      check('default stream keeps ≥ top − 0.03', `≥ ${fmt(top.ratio - 0.03, 2)}`, r(stream), stream.ratio >= top.ratio - 0.03);
    if (full && c)
      check(
        '--rate-limit 0 delivers ≥ 0.8 × C consumer',
        `≥ ${fmt(0.8 * c.delivered_per_s)}/s`,
        `${fmt(full.delivered_per_s)}/s (${fmt(full.delivered_per_s / c.delivered_per_s, 2)}×)`,
        full.delivered_per_s >= 0.8 * c.delivered_per_s,
      );
    if (full?.cpu_us_per_event && c?.cpu_us_per_event)
      check(
        '--rate-limit 0 capacity ≥ 0.8 × C consumer (CPU per event)',
        `≤ ${fmt(c.cpu_us_per_event / 0.8, 2)} µs`,
        `${fmt(full.cpu_us_per_event, 2)} µs (C: ${fmt(c.cpu_us_per_event, 2)})`,
        full.cpu_us_per_event <= c.cpu_us_per_event / 0.8,
      );
    if (full)
      check(
        '--rate-limit 0: no unreported loss',
        '0 %',
        `${fmt(full.unreported_loss_pct, 2)} %`,
        full.unreported_loss_pct !== null ? Math.abs(full.unreported_loss_pct) < 0.01 : null,
      );
    for (const [x, limit] of [
      [stream, 150],
      [full, 150],
      [top, 75],
    ]) {
      if (x?.bpf_ns_per_run === null || x?.bpf_ns_per_run === undefined) continue;
      check(`in-kernel ns/drop, ${x.condition}`, `≤ ${limit}`, fmt(x.bpf_ns_per_run, 0), x.bpf_ns_per_run <= limit);
      // the statistics' own two clock reads a run are in every program's figure: the empty floor is them
      if (floor?.bpf_ns_per_run) {
        const net = x.bpf_ns_per_run - floor.bpf_ns_per_run;
        check(`in-kernel ns/drop, ${x.condition} − floor's ${fmt(floor.bpf_ns_per_run, 0)}`, `≤ ${limit}`, fmt(net, 0), net <= limit);
      }
    }
    for (const x of [stream, full, top])
      if (x?.peak_rss_mb)
        check(`peak RSS, ${x.condition} (${duration} s storms)`, '≤ 100 MB', `${fmt(x.peak_rss_mb, 0)} MB`, x.peak_rss_mb <= 100);
  }
  return markdownTable(['host', 'target', 'asked', 'measured', ''], rows);
}

async function main() {
  mkdirSync(outDir, { recursive: true });
  const restoreStats = enableBpfStats();
  process.on('exit', restoreStats);
  if (ownNetns) netnsUp(nsName, PORT);
  else if (!netnsExists(`${nsName}-rx`)) throw new Error(`namespace ${nsName}-rx does not exist`);
  const ns = netnsInfo(nsName, PORT);
  const ctx = { ns, duration, node: process.execPath, scratch };

  const only = opt.only ? new Set(opt.only.split(',')) : null;
  const skipped = {};
  const active = [];
  for (const cond of conditions) {
    const reason = only && !only.has(cond.name) && cond.name !== 'untraced' ? 'not selected (--only)' : cond.skip(ctx);
    if (reason) {
      skipped[cond.name] = reason;
      console.error(`skip ${cond.name}: ${reason}`);
    } else active.push(cond);
  }

  console.error(
    `bench: ${rounds} rounds × ${hosts.join('+')} × ${active.length} conditions × ${duration} s storms, storm on CPU ${cpu}, namespaces ${ns.tx} → ${ns.rx}`,
  );
  const runs = [];
  const failedToStart = new Set();
  for (let round = 1; round <= rounds; round++) {
    for (const host of hosts)
      for (const cond of active) {
        if (failedToStart.has(cond.name)) continue;
        const r = await runOnce(cond, ctx, host);
        r.round = round;
        runs.push(r);
        if (r.error) {
          console.error(`round ${round} ${host} ${cond.name}: ERROR ${r.error}`);
          // a tracer that cannot start will not start next round either: save the time
          if (/before ready|not ready/.test(r.error)) failedToStart.add(cond.name);
        } else {
          const extra =
            r.delivered !== undefined ? ` delivered ${fmt(r.delivered_per_s)}/s lost ${fmt(r.lost)} cpu ${fmt(r.tracer_cpu_pct)}%` : '';
          console.error(`round ${round} ${host} ${cond.name}: ${fmt(r.rate)} drops/s${extra}`);
        }
        // let softirq backlogs and the tracer's exit settle before the next storm
        await sleep(300);
      }
  }

  const summary = summarise(runs, skipped);
  const results = {
    time: new Date().toISOString(),
    kernel: (await import('node:os')).release(),
    cpus: availableParallelism(),
    rounds,
    duration_s: duration,
    storm_cpu: cpu,
    hosts,
    summary,
    runs,
  };
  writeFileSync(opt.out, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\n### Drop storm (${rounds} rounds × ${duration} s, medians; ratios vs the untraced median of this run)\n`);
  console.log(table(summary));
  console.log(`\n### Targets\n`);
  console.log(targetsTable(summary));
  console.log(`\nJSON: ${opt.out}`);
}

try {
  await main();
} catch (err) {
  console.error(`run.mjs: ${err.stack ?? err}`);
  process.exitCode = 1;
} finally {
  cleanup();
}
