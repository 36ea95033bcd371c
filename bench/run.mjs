// The drop-storm bench: conditions interleaved A B C … A B C … over N rounds, each round one storm
// per condition, drops counted by the iptables rule, ratios against the untraced median of this run.
//
//   node bench/run.mjs [--rounds 3] [--duration 5] [--cpu N] [--only a,b] [--netns dtbench-xxxx] [--out file]
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
  CLK_TCK,
  cpuTicks,
  dropCounter,
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
  Tracer,
} from './lib.mjs';

const PORT = 9;

const { values: opt } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    cpu: { type: 'string', default: String(availableParallelism() - 1) },
    only: { type: 'string' },
    netns: { type: 'string' },
    out: { type: 'string', default: join(outDir, 'results.json') },
  },
});
const rounds = Number(opt.rounds);
const duration = Number(opt.duration);
const cpu = Number(opt.cpu);
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

/** One storm under one condition: returns the measurements, or {error}. */
async function runOnce(cond, ctx) {
  const argv = cond.argv(ctx);
  let tracer = null;
  const stdoutPath = cond.stdout === 'file' ? scratch(`${cond.name}.out`) : null;
  try {
    if (argv) {
      tracer = new Tracer(argv, { stdoutPath });
      await tracer.waitReady(cond.ready);
    }
    const ticks0 = tracer ? cpuTicks(tracer.pid) : null;
    const made0 = dropCounter(nsName, PORT);
    const storm = await runStorm(ctx.ns, { duration, cpu });
    const made1 = dropCounter(nsName, PORT);
    const ticks1 = tracer ? cpuTicks(tracer.pid) : null;
    const made = made1 - made0;
    const result = {
      condition: cond.name,
      made,
      storm_elapsed_s: storm.elapsed_s,
      sent: storm.sent,
      rate: made / storm.elapsed_s,
    };
    if (!tracer) return result;

    if (tracer.exit) throw new Error(`tracer exited during the storm (${JSON.stringify(tracer.exit)}): ${tracer.stderr.slice(-400)}`);
    result.tracer_cpu_pct = ticks0 !== null && ticks1 !== null ? ((ticks1 - ticks0) / CLK_TCK / storm.elapsed_s) * 100 : null;
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
    const { delivered, lost, lost_note, extra } = cond.read(out, ctx);
    result.delivered = delivered;
    result.lost = lost;
    if (lost_note) result.lost_note = lost_note;
    if (extra) result.extra = extra;
    if (delivered !== null) {
      result.delivered_per_s = delivered / storm.elapsed_s;
      // what neither arrived nor was admitted lost; can dip below 0 for host-wide tracers (other drops)
      result.unreported_loss_pct = made > 0 ? ((made - delivered - (lost ?? 0)) / made) * 100 : null;
    }
    return result;
  } catch (err) {
    return { condition: cond.name, error: err.message };
  } finally {
    if (tracer && !tracer.exit) await tracer.stop();
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
  const byName = new Map();
  for (const r of runs) {
    if (!byName.has(r.condition)) byName.set(r.condition, []);
    byName.get(r.condition).push(r);
  }
  const ok = (rs) => rs.filter((r) => !r.error);
  const baseRate = median(ok(byName.get('untraced') ?? []).map((r) => r.rate));
  const summary = [];
  for (const cond of conditions) {
    if (skipped[cond.name]) {
      summary.push({ condition: cond.name, skipped: skipped[cond.name] });
      continue;
    }
    const rs = byName.get(cond.name) ?? [];
    const good = ok(rs);
    const rate = median(good.map((r) => r.rate));
    const lostValues = good.map((r) => r.lost).filter((x) => x !== null && x !== undefined);
    summary.push({
      condition: cond.name,
      runs: good.length,
      errors: rs.filter((r) => r.error).map((r) => r.error),
      rate,
      ratio: rate !== null && baseRate ? rate / baseRate : null,
      delivered_per_s: median(good.map((r) => r.delivered_per_s)),
      lost: lostValues.length ? median(lostValues) : null,
      lost_note: joinNotes(good.map((r) => r.lost_note).filter(Boolean)),
      unreported_loss_pct: median(good.map((r) => r.unreported_loss_pct)),
      tracer_cpu_pct: median(good.map((r) => r.tracer_cpu_pct)),
      peak_rss_mb: good.length ? Math.max(...good.map((r) => r.peak_rss_mb ?? 0)) || null : null,
    });
  }
  return summary;
}

function table(summary) {
  const headers = [
    'condition',
    'runs',
    'storm drops/s',
    'vs untraced',
    'delivered/s',
    'lost reported',
    'unreported loss',
    'tracer CPU',
    'peak RSS',
  ];
  const rows = summary.map((s) => {
    if (s.skipped) return [s.condition, '0', `skipped: ${s.skipped}`, '', '', '', '', '', ''];
    if (s.runs === 0) return [s.condition, '0', `failed: ${s.errors[0]?.slice(0, 120) ?? ''}`, '', '', '', '', '', ''];
    return [
      s.condition,
      String(s.runs),
      fmt(s.rate),
      s.ratio !== null ? fmt(s.ratio, 2) : '–',
      fmt(s.delivered_per_s),
      s.lost !== null ? fmt(s.lost) : (s.lost_note ?? '–'),
      s.unreported_loss_pct !== null ? `${fmt(s.unreported_loss_pct, 1)} %` : '–',
      s.tracer_cpu_pct !== null ? `${fmt(s.tracer_cpu_pct, 0)} %` : '–',
      s.peak_rss_mb !== null ? `${fmt(s.peak_rss_mb, 0)} MB` : '–',
    ];
  });
  return markdownTable(headers, rows);
}

async function main() {
  mkdirSync(outDir, { recursive: true });
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
    `bench: ${rounds} rounds × ${active.length} conditions × ${duration} s storms, storm on CPU ${cpu}, namespaces ${ns.tx} → ${ns.rx}`,
  );
  const runs = [];
  const failedToStart = new Set();
  for (let round = 1; round <= rounds; round++) {
    for (const cond of active) {
      if (failedToStart.has(cond.name)) continue;
      const r = await runOnce(cond, ctx);
      r.round = round;
      runs.push(r);
      if (r.error) {
        console.error(`round ${round} ${cond.name}: ERROR ${r.error}`);
        // a tracer that cannot start will not start next round either: save the time
        if (/before ready|not ready/.test(r.error)) failedToStart.add(cond.name);
      } else {
        const extra =
          r.delivered !== undefined ? ` delivered ${fmt(r.delivered_per_s)}/s lost ${fmt(r.lost)} cpu ${fmt(r.tracer_cpu_pct)}%` : '';
        console.error(`round ${round} ${cond.name}: ${fmt(r.rate)} drops/s${extra}`);
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
    summary,
    runs,
  };
  writeFileSync(opt.out, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\n### Drop storm (${rounds} rounds × ${duration} s, medians; ratios vs the untraced median of this run)\n`);
  console.log(table(summary));
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
