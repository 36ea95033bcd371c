// The bench's conditions: one row each. To add or change one, edit this table only.
//
//   name       what the tables call it
//   skip(ctx)  null when it can run here, else the reason it cannot (printed, and kept in the JSON)
//   argv(ctx)  the tracer command (null: no tracer, the storm alone)
//   stdout     'file': stdout goes to a scratch file that read() gets; 'null': /dev/null
//   ready      when the tracer is attached: {stdout: RegExp} | {stderr: RegExp} | {delayMs}
//   settleMs   wait this long after the storm before stopping the tracer (default 0)
//   read(out, ctx)  {delivered, lost, suppressed?, lost_note?, extra?} from what the tracer wrote:
//              delivered = events that reached the consumer (or were counted), lost = events the
//              tracer itself says it lost (null: it cannot say; lost_note then says what it did
//              say), suppressed = events its rate limit counted instead of streaming
//
// ctx: {ns: {tx, rx, tx_addr, rx_addr, port, rx_inode}, duration, node, scratch(name) → scratch path} ; out: {stdoutPath, stdout (small files only), stderr}
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { consumerBin, repoDir, scanNdjson, which } from './lib.mjs';

const droptraceBin = join(repoDir, 'bin', 'droptrace.js');

function needsConsumer() {
  return existsSync(consumerBin) ? null : `${consumerBin} not built (bench/c/build.sh)`;
}

/** The C consumers' last stderr line: {"delivered":N,"lost":N}. */
function consumerResult(stderr) {
  const line = stderr.trim().split('\n').pop() ?? '';
  try {
    const r = JSON.parse(line);
    return { delivered: r.delivered, lost: r.lost };
  } catch {
    return { delivered: null, lost: null, lost_note: `no summary: ${line.slice(0, 80)}` };
  }
}

/** droptrace's NDJSON: delivered drops, lost and suppressed from its own records. */
function droptraceResult({ stdoutPath }) {
  const s = scanNdjson(stdoutPath);
  return {
    delivered: s.drops,
    lost: s.lost,
    suppressed: s.suppressed,
    extra: { lost_records: s.lost_records, suppressed_records: s.suppressed_records, stop: s.stop, program: s.start?.program ?? null },
  };
}

function needs(cmd) {
  return which(cmd) ? null : `${cmd} not installed`;
}

function needsDroptrace() {
  return existsSync(droptraceBin) ? null : `${droptraceBin} does not exist yet`;
}

// Fires after every probe is attached, unlike bpftrace's own "Attaching N probes..." line.
const BPFTRACE_READY = 'BEGIN { printf("ready\\n"); }';

/** bpftrace reports ring/perf-buffer loss as "Lost N events" lines. */
function bpftraceLost(text) {
  let lost = 0;
  for (const m of text.matchAll(/Lost (\d+) events/g)) lost += Number(m[1]);
  return lost;
}

/** Checks once that perf can open the tracepoint system-wide here. */
function perfSkip() {
  const missing = needs('perf');
  if (missing) return missing;
  try {
    execFileSync('perf', ['stat', '-e', 'skb:kfree_skb', '-a', '--', 'true'], { stdio: 'pipe', timeout: 20000 });
    return null;
  } catch (err) {
    return `perf cannot open skb:kfree_skb: ${
      String(err.stderr ?? err.message)
        .trim()
        .split('\n')[0]
    }`;
  }
}

export const conditions = [
  {
    name: 'untraced',
    skip: () => null,
    argv: () => null,
  },
  {
    // the cost of being attached at all: an empty per-CPU counter on tp_btf/kfree_skb
    name: 'floor',
    skip: needsConsumer,
    argv: () => [consumerBin, 'floor'],
    stdout: 'null',
    ready: { stderr: /^ready$/m },
    // counts every drop on the host, like bpftrace-count
    read: ({ stderr }) => consumerResult(stderr),
  },
  {
    name: 'bpftrace-count',
    skip: () => needs('bpftrace'),
    argv: () => ['bpftrace', '-e', `${BPFTRACE_READY} tracepoint:skb:kfree_skb { @[args->reason] = count(); }`],
    stdout: 'file',
    ready: { stdout: /^ready$/m },
    // counted in the kernel, printed at exit: nothing to lose; counts every drop on the host
    read: ({ stdout }) => {
      let delivered = 0;
      for (const m of stdout.matchAll(/^@\[[^\]]*\]: (\d+)$/gm)) delivered += Number(m[1]);
      return { delivered, lost: bpftraceLost(stdout) };
    },
  },
  {
    name: 'bpftrace-printf',
    skip: () => needs('bpftrace'),
    // the cheapest line bpftrace can print per drop: the strongest version of this peer
    argv: () => ['bpftrace', '-e', `${BPFTRACE_READY} tracepoint:skb:kfree_skb { printf("%d\\n", args->reason); }`],
    stdout: 'file',
    ready: { stdout: /^ready$/m },
    read: ({ stdout, stderr }) => {
      const delivered = (stdout.match(/^\d+$/gm) ?? []).length;
      return { delivered, lost: bpftraceLost(stdout) + bpftraceLost(stderr) };
    },
  },
  {
    name: 'perf-record',
    skip: perfSkip,
    argv: ({ scratch }) => ['perf', 'record', '-e', 'skb:kfree_skb', '-a', '-o', scratch('perf.data')],
    stdout: 'null',
    // perf prints nothing once attached; system-wide set-up takes well under a second here
    ready: { delayMs: 1500 },
    // perf reports lost *chunks*, not events: lost stays null and the chunks go to extra
    read: ({ stderr }) => {
      const samples = /\((\d+) samples\)/.exec(stderr);
      const chunks = /lost (\d+) chunks/.exec(stderr);
      return {
        delivered: samples ? Number(samples[1]) : null,
        lost: null,
        lost_note: `${chunks ? chunks[1] : 0} chunks`,
      };
    },
  },
  {
    // the default stream: --json's rate limit (100 events/s per key and CPU)
    name: 'droptrace-stream',
    skip: needsDroptrace,
    // the bin as users run it: its shebang carries droptrace's node flags
    argv: ({ ns }) => [droptraceBin, '--json', '--netns', ns.rx],
    stdout: 'file',
    ready: { stdout: /"type":"start"/ },
    read: droptraceResult,
  },
  {
    // full fidelity: every event, no rate limit
    name: 'droptrace-full',
    skip: needsDroptrace,
    argv: ({ ns }) => [droptraceBin, '--json', '--rate-limit', '0', '--netns', ns.rx],
    stdout: 'file',
    ready: { stdout: /"type":"start"/ },
    read: droptraceResult,
  },
  {
    // the reference for the full stream: droptrace's own BPF object and ring buffer read by C
    // (libbpf, a 10 ms timer, no wake-ups waited for), one text line per event
    name: 'c-consumer',
    skip: needsConsumer,
    argv: ({ ns }) => [consumerBin, 'stream', String(ns.rx_inode)],
    stdout: 'file',
    ready: { stderr: /^ready$/m },
    read: ({ stderr }) => consumerResult(stderr),
  },
  {
    name: 'droptrace-top',
    skip: needsDroptrace,
    // --duration only bounds it if the bench dies; the runner stops it with SIGINT after the storm.
    // --json: a `counts` record per interval, whatever the table's columns are this release
    argv: ({ ns, duration }) => [droptraceBin, 'top', '--json', '--netns', ns.rx, '--interval', '0.5', '--duration', String(duration + 30)],
    stdout: 'file',
    ready: { stdout: /"type":"start"/ },
    // one more sample after the storm, so the last counts hold all of it
    settleMs: 1200,
    // counted in the kernel: "delivered" is the rx namespace's NETFILTER_DROP count in the last sample
    read: ({ stdout }, { ns }) => {
      let delivered = null;
      for (const line of stdout.split('\n')) {
        if (!line.startsWith('{"type":"counts"')) continue;
        const rows = JSON.parse(line).rows.filter((r) => r.netns === ns.rx_inode && r.reason === 'NETFILTER_DROP');
        if (rows.length) delivered = rows.reduce((n, r) => n + r.count, 0);
      }
      return { delivered, lost: delivered === null ? null : 0, extra: { output_tail: stdout.slice(-1500) } };
    },
  },
];

/** Reads a small output file whole (bpftrace's and top's; never the stream's GB-sized one). */
export function readSmall(path) {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
