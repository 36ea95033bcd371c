// Peak RSS of `droptrace --json` through a drop storm, in the two ways a reader can fail it:
// stdout to /dev/null (a reader that keeps up) and stdout to a pipe nobody reads (a stalled log
// shipper). Also how long SIGINT takes to end it in each case. A bench: measured and reported,
// not asserted.
//
//   node bench/memory.mjs [--duration 60] [--cpu N] [--stdout null,stalled] [--node-flags '--x --y'] [--out file]
//
// --node-flags runs node with these flags (and the bin's own) instead of the bin's shebang: to try V8 settings.
//
// Needs root and bench/.output/storm (bench/run.sh builds it; so does this script when missing).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  benchSession,
  binNodeFlags,
  dropCounter,
  fmt,
  markdownTable,
  memAndSwitches,
  netnsInfo,
  netnsUp,
  outDir,
  randomName,
  repoDir,
  runStorm,
  sleep,
  stormBin,
} from './lib.mjs';

const PORT = 9;
const { values: opt } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    cpu: { type: 'string', default: String(availableParallelism() - 1) },
    out: { type: 'string', default: join(outDir, 'memory.json') },
    stdout: { type: 'string', default: 'null,stalled' },
    'node-flags': { type: 'string' },
  },
});
const duration = Number(opt.duration);
const cpu = Number(opt.cpu);
if (process.getuid?.() !== 0) {
  console.error('memory.mjs: needs root (namespaces, iptables, BPF)');
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });
if (!existsSync(stormBin)) execFileSync('cc', ['-O2', '-Wall', '-o', stormBin, join(repoDir, 'bench', 'storm.c')]);

const nsName = randomName();
const { cleanup } = benchSession('memory.mjs', nsName, true);

/** One storm with droptrace reading it; `stdout`: 'null' or 'stalled' (a pipe never read). */
async function measure(ns, stdout) {
  const bin = join(repoDir, 'bin', 'droptrace.js');
  const out = stdout === 'null' ? openSync('/dev/null', 'w') : 'pipe';
  const flags = opt['node-flags']?.split(/\s+/).filter(Boolean);
  const argv = ['--json', '--netns', ns.rx];
  const child = flags
    ? spawn(process.execPath, [...binNodeFlags(), ...flags, bin, ...argv], { stdio: ['ignore', out, 'pipe'] })
    : spawn(bin, argv, { stdio: ['ignore', out, 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => {
    stderr = (stderr + d).slice(-8192);
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  // attached once the banner-less JSON stream has started: give it the start-up time
  await sleep(1500);
  if (stdout === 'stalled') child.stdout.pause(); // never read from here on
  let peakKb = 0;
  const sampler = setInterval(() => {
    const m = memAndSwitches(child.pid);
    if (m && m.hwm_kb > peakKb) peakKb = m.hwm_kb;
  }, 250);
  const made0 = dropCounter(nsName, PORT);
  const storm = await runStorm(ns, { duration, cpu });
  const made = dropCounter(nsName, PORT) - made0;
  const m = memAndSwitches(child.pid);
  if (m && m.hwm_kb > peakKb) peakKb = m.hwm_kb;
  clearInterval(sampler);
  const t0 = performance.now();
  child.kill('SIGINT');
  const exit = await Promise.race([exited, sleep(30_000).then(() => null)]);
  const stopMs = performance.now() - t0;
  if (!exit) child.kill('SIGKILL');
  const stop = /"type":"stop".*$/m.exec(stderr)?.[0] ?? null;
  return {
    stdout,
    duration_s: storm.elapsed_s,
    drops_per_s: made / storm.elapsed_s,
    peak_rss_mb: peakKb / 1024,
    sigint_to_exit_ms: exit ? stopMs : null,
    exit,
    stop_on_stderr: stop,
  };
}

try {
  netnsUp(nsName, PORT);
  const ns = netnsInfo(nsName, PORT);
  const results = [];
  for (const stdout of opt.stdout.split(',')) {
    const r = await measure(ns, stdout);
    results.push(r);
    console.error(`memory.mjs: ${stdout}: peak ${fmt(r.peak_rss_mb, 0)} MB, SIGINT to exit ${fmt(r.sigint_to_exit_ms, 0)} ms`);
  }
  writeFileSync(
    opt.out,
    `${JSON.stringify({ node: process.version, node_flags: opt['node-flags'] ?? null, duration, results }, null, 2)}\n`,
  );
  console.log(
    markdownTable(
      ['stdout', 'storm', 'drops/s', 'peak RSS', 'SIGINT → exit'],
      results.map((r) => [
        r.stdout === 'null' ? '/dev/null' : 'stalled pipe',
        `${fmt(r.duration_s, 0)} s`,
        fmt(r.drops_per_s, 0),
        `${fmt(r.peak_rss_mb, 0)} MB`,
        r.sigint_to_exit_ms === null ? 'did not exit in 30 s' : `${fmt(r.sigint_to_exit_ms, 0)} ms`,
      ]),
    ),
  );
} finally {
  cleanup();
}
