// Where one event's microseconds go: droptrace under a drop storm with V8's CPU profiler, then the
// functions by self time, grouped into the stages of the stream (decode, attribution,
// classification, serialisation, write, GC).
//
//   node bench/profile.mjs [--duration 5] [--cpu N] [--netns dtbench-xxxx] [-- droptrace args…]
//
// Default droptrace args: --json --rate-limit 0 --netns <rx>. Needs root and bench/.output/storm.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  benchDir,
  benchSession,
  binNodeFlags,
  fmt,
  netnsInfo,
  netnsUp,
  randomName,
  repoDir,
  runStorm,
  scanNdjson,
  scratchDir,
  Tracer,
} from './lib.mjs';

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    duration: { type: 'string', default: '5' },
    cpu: { type: 'string', default: String(availableParallelism() - 1) },
    netns: { type: 'string' },
    top: { type: 'string', default: '25' },
  },
});
const ownNetns = !opt.netns;
const nsName = opt.netns ?? randomName();
const { scratch, cleanup } = benchSession('profile.mjs', nsName, ownNetns);

/** Which stage a function belongs to, by its file. */
function stage(url, name) {
  if (name === '(garbage collector)') return 'gc';
  if (/decode\/|kallsyms|btf-names/.test(url)) return 'decode';
  if (/containers\/|prepare/.test(url)) return 'attribution';
  if (/classify\/|enrich/.test(url)) return 'classification';
  if (/output\/ndjson|output\/text|JSON/.test(url) || name === 'stringify') return 'serialisation';
  if (/node:internal\/(streams|fs|net)|node:net|node:stream|writeUtf8String|writev|writeGeneric/.test(url + name)) return 'write';
  if (/cli\/stream|session|pipeline/.test(url)) return 'stream';
  if (name === '(idle)' || name === '(program)') return name;
  return 'other';
}

async function main() {
  if (ownNetns) netnsUp(nsName, 9);
  const ns = netnsInfo(nsName, 9);
  const dir = mkdtempSync(join(scratchDir, 'dtprof-'));
  const args = positionals.length ? positionals : ['--json', '--rate-limit', '0', '--netns', ns.rx];
  const out = scratch('profile.out');
  const hook = join(benchDir, 'profile-hook.mjs');
  const tracer = new Tracer(
    // the unbundled CLI (what the bundle is made of): its files name the stages
    [process.execPath, ...binNodeFlags(), '--import', hook, join(repoDir, 'dist', 'cli', 'bin.js'), ...args],
    {
      stdoutPath: out,
      env: { ...process.env, DTPROF_OUT: join(dir, 'droptrace.cpuprofile'), DTPROF_DELAY_MS: '1000' },
    },
  );
  try {
    await tracer.waitReady(args.includes('--json') ? { stdout: /"type":"start"/ } : { stderr: /tracing drops|counting drops/ });
    // the profiler starts 1 s after exec: attached by then
    await new Promise((r) => setTimeout(r, 1000));
    const storm = await runStorm(ns, { duration: Number(opt.duration), cpu: Number(opt.cpu) });
    await tracer.stop();
    const s = args.includes('--json') ? scanNdjson(out) : null;
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error(`no profile written: ${tracer.stderr.slice(-300)}`);
    const p = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const self = new Map();
    const stages = new Map();
    let total = 0;
    for (let i = 0; i < p.samples.length; i++) {
      const n = byId.get(p.samples[i]);
      const t = p.timeDeltas[i] ?? 0;
      const { functionName, url, lineNumber } = n.callFrame;
      const key = `${functionName || '(anonymous)'} ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`;
      self.set(key, (self.get(key) ?? 0) + t);
      const st = stage(url, functionName);
      stages.set(st, (stages.get(st) ?? 0) + t);
      if (st !== '(idle)') total += t;
    }
    const events = s ? s.drops : null;
    console.log(
      `storm ${fmt(storm.elapsed_s, 1)} s; ${events !== null ? `${fmt(events)} events delivered, ${fmt(s.lost)} lost; ` : ''}busy ${fmt(total / 1000)} ms`,
    );
    console.log('\nstage              ms     share   µs/event');
    for (const [st, t] of [...stages].sort((a, b) => b[1] - a[1])) {
      if (st === '(idle)') continue;
      const per = events ? fmt(t / events, 2) : '–';
      console.log(`${st.padEnd(16)} ${fmt(t / 1000).padStart(6)}  ${fmt((t / total) * 100, 1).padStart(6)} %  ${per.padStart(8)}`);
    }
    console.log('\nself time, top functions');
    for (const [k, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(opt.top))) {
      if (k.startsWith('(idle)')) continue;
      console.log(`${fmt((t / total) * 100, 1).padStart(5)} %  ${fmt(t / 1000).padStart(6)} ms  ${k}`);
    }
  } finally {
    if (!tracer.exit) await tracer.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

try {
  await main();
} catch (err) {
  console.error(`profile.mjs: ${err.stack ?? err}`);
  process.exitCode = 1;
} finally {
  cleanup();
}
