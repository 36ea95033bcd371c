// Start-up and idle cost, side by side with node's own start-up and bpftrace's attach time.
//
//   node bench/startup.mjs [--runs 10] [--idle 10] [--netns dtbench-xxxx] [--installed bin] [--out file]
//
// --installed: also time that droptrace (an installed package's bin, bench/package.mjs), in the same run.
//
// exec → first `start` record on stdout of `droptrace --json --netns <rx>`; exec → exit of `node -e 0`;
// exec → bpftrace's "Attaching" line and exec → its BEGIN probe (fires once every probe is attached);
// then CPU and context switches of droptrace and bpftrace idling side by side with nothing dropping.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  benchSession,
  CLK_TCK,
  cpuTicks,
  ensureTracefs,
  fmt,
  markdownTable,
  median,
  memAndSwitches,
  netnsExists,
  netnsUp,
  outDir,
  randomName,
  repoDir,
  sleep,
  Tracer,
  which,
} from './lib.mjs';

const { values: opt } = parseArgs({
  options: {
    runs: { type: 'string', default: '10' },
    idle: { type: 'string', default: '10' },
    netns: { type: 'string' },
    installed: { type: 'string' },
    out: { type: 'string', default: join(outDir, 'startup.json') },
  },
});
const runs = Number(opt.runs);
const idleSeconds = Number(opt.idle);
if (process.getuid?.() !== 0) {
  console.error('startup.mjs: needs root (BPF)');
  process.exit(2);
}
const ownNetns = !opt.netns;
const nsName = opt.netns ?? randomName();
if (!nsName.startsWith('dtbench-')) {
  console.error('startup.mjs: --netns must start with dtbench-');
  process.exit(2);
}
const rx = `${nsName}-rx`;
const droptraceBin = join(repoDir, 'bin', 'droptrace.js');
const { scratch, cleanup } = benchSession('startup.mjs', nsName, ownNetns);

const BPFTRACE_PROG = 'BEGIN { printf("ready\\n"); } tracepoint:skb:kfree_skb { @[args->reason] = count(); }';

/** Times from spawn to each `marks` regex on stdout (ms); stops the process after the last one. */
async function timeTo(argv, marks, { untilExit = false } = {}) {
  const tracer = new Tracer(argv, { stdoutPath: 'pipe' });
  try {
    if (untilExit) {
      await tracer.exited;
      if (tracer.exit.code !== 0) throw new Error(`exit ${JSON.stringify(tracer.exit)}: ${tracer.stderr.slice(-300)}`);
      return [performance.now() - tracer.startedAt];
    }
    const times = [];
    for (const re of marks) times.push(await tracer.waitReady({ stdout: re }, 10000));
    return times;
  } finally {
    await tracer.stop();
  }
}

/**
 * Every program's runs interleaved, A B C A B C …: on a shared machine the load drifts, and a
 * program timed in a quiet minute must not be compared with one timed in a busy one.
 * entries: [key, label, argv, marks, options]. Returns {key: {samples, median_ms}} and, for a
 * program that failed, {key: {error}}.
 */
async function interleaved(entries) {
  const samples = Object.fromEntries(entries.map(([key, , , marks]) => [key, marks ? marks.map(() => []) : [[]]]));
  const errors = {};
  for (let i = 0; i < runs; i++) {
    for (const [key, , argv, marks, options] of entries) {
      if (errors[key]) continue;
      try {
        const t = await timeTo(argv, marks ?? [], options);
        for (const [j, v] of t.entries()) samples[key][j].push(v);
      } catch (err) {
        errors[key] = err.message;
      }
      await sleep(100);
    }
  }
  const out = {};
  for (const [key, label] of entries) {
    if (errors[key]) {
      out[key] = { error: errors[key] };
      continue;
    }
    const meds = samples[key].map(median);
    console.error(`${label}: ${meds.map((m) => `${fmt(m, 1)} ms`).join(' / ')}`);
    out[key] = { samples: samples[key], median_ms: meds };
  }
  return out;
}

/** CPU%, context switches/s and RSS of already-attached tracers over `seconds` with nothing dropping. */
async function idle(tracers, seconds) {
  const before = tracers.map((t) => ({ ticks: cpuTicks(t.pid), m: memAndSwitches(t.pid), at: performance.now() }));
  await sleep(seconds * 1000);
  return tracers.map((t, i) => {
    const after = { ticks: cpuTicks(t.pid), m: memAndSwitches(t.pid), at: performance.now() };
    const s = (after.at - before[i].at) / 1000;
    if (after.ticks === null) return { error: `exited while idle: ${t.stderr.slice(-300)}` };
    return {
      seconds: s,
      cpu_pct: ((after.ticks - before[i].ticks) / CLK_TCK / s) * 100,
      switches_per_s: (after.m.switches - before[i].m.switches) / s,
      rss_mb: after.m.rss_kb / 1024,
    };
  });
}

async function main() {
  mkdirSync(outDir, { recursive: true });
  if (ownNetns) netnsUp(nsName, 9);
  else if (!netnsExists(rx)) throw new Error(`namespace ${rx} does not exist`);

  const results = { time: new Date().toISOString(), runs, idle_s: idleSeconds, skipped: {} };
  const dtArgv = [droptraceBin, '--json', '--netns', rx];
  const entries = [['node', 'node -e 0 (exec → exit)', [process.execPath, '-e', '0'], null, { untilExit: true }]];
  if (which('bpftrace')) {
    ensureTracefs('startup.mjs');
    entries.push(['bpftrace', 'bpftrace (exec → "Attaching" / → BEGIN)', ['bpftrace', '-e', BPFTRACE_PROG], [/Attaching/, /^ready$/m]]);
  } else results.skipped.bpftrace = 'bpftrace not installed';
  if (existsSync(droptraceBin)) entries.push(['droptrace', 'droptrace --json (exec → start record)', dtArgv, [/"type":"start"/]]);
  else results.skipped.droptrace = `${droptraceBin} does not exist yet`;
  if (opt.installed)
    entries.push([
      'installed',
      'installed droptrace --json (exec → start record)',
      [opt.installed, '--json', '--netns', rx],
      [/"type":"start"/],
    ]);
  for (const [key, r] of Object.entries(await interleaved(entries))) {
    if (r.error) results.skipped[key] = `failed: ${r.error}`;
    else results[key] = r;
  }

  // idle side by side: a busy poller shows up as CPU and as thousands of context switches per second
  const idlers = [];
  if (!results.skipped.droptrace)
    idlers.push(['droptrace --json', new Tracer(dtArgv, { stdoutPath: scratch('idle-dt.out') }), { stdout: /"type":"start"/ }]);
  if (results.bpftrace)
    idlers.push([
      'bpftrace count',
      new Tracer(['bpftrace', '-e', BPFTRACE_PROG], { stdoutPath: scratch('idle-bt.out') }),
      { stdout: /^ready$/m },
    ]);
  try {
    for (const [, t, ready] of idlers) await t.waitReady(ready);
    const idleResults = idlers.length
      ? await idle(
          idlers.map(([, t]) => t),
          idleSeconds,
        )
      : [];
    results.idle = Object.fromEntries(idlers.map(([name], i) => [name, idleResults[i]]));
  } finally {
    for (const [, t] of idlers) await t.stop();
  }

  writeFileSync(opt.out, `${JSON.stringify(results, null, 2)}\n`);

  const rows = [['node -e 0', 'exec → exit', fmt(results.node.median_ms[0], 0)]];
  if (results.bpftrace) {
    rows.push(['bpftrace (kfree_skb count)', 'exec → "Attaching"', fmt(results.bpftrace.median_ms[0], 0)]);
    rows.push(['bpftrace (kfree_skb count)', 'exec → BEGIN fired (attached)', fmt(results.bpftrace.median_ms[1], 0)]);
  }
  if (results.droptrace) rows.push(['droptrace --json --netns', 'exec → `start` record', fmt(results.droptrace.median_ms[0], 0)]);
  if (results.installed) rows.push(['installed package, same command', 'exec → `start` record', fmt(results.installed.median_ms[0], 0)]);
  for (const [name, why] of Object.entries(results.skipped)) rows.push([name, `skipped: ${why.slice(0, 160)}`, '']);
  console.log(`\n### Start-up (median of ${runs})\n`);
  console.log(markdownTable(['program', 'measured', 'ms'], rows));
  if (results.idle && Object.keys(results.idle).length) {
    console.log(`\n### Idle, nothing dropping (${idleSeconds} s)\n`);
    const idleRows = Object.entries(results.idle).map(([name, r]) =>
      r.error ? [name, r.error, '', ''] : [name, `${fmt(r.cpu_pct, 2)} %`, fmt(r.switches_per_s, 1), `${fmt(r.rss_mb, 0)} MB`],
    );
    console.log(markdownTable(['tracer', 'CPU', 'context switches/s', 'RSS'], idleRows));
  }
  console.log(`\nJSON: ${opt.out}`);
}

try {
  await main();
} catch (err) {
  console.error(`startup.mjs: ${err.stack ?? err}`);
  process.exitCode = 1;
} finally {
  cleanup();
}
