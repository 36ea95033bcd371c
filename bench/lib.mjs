// Shared pieces of the bench: namespaces, the storm, tracer processes and what /proc says about them.
// Plain ESM JavaScript so it runs on Node 20 without a build step.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const benchDir = dirname(fileURLToPath(import.meta.url));
export const repoDir = dirname(benchDir);
export const outDir = join(benchDir, '.output');
export const stormBin = join(outDir, 'storm');
export const consumerBin = join(outDir, 'consumer');
const netnsScript = join(benchDir, 'netns.sh');

// Big tracer outputs go to RAM, not to disk: a disk write would slow the tracer, not the storm.
export const scratchDir = existsSync('/dev/shm') ? '/dev/shm' : '/tmp';

export const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** The node flags bin/droptrace.js's shebang gives node: the bin's are the one definition. */
export function binNodeFlags() {
  const words = readFileSync(join(repoDir, 'bin', 'droptrace.js'), 'utf8')
    .split('\n', 1)[0]
    .split(/\s+/);
  return words.slice(words.indexOf('node') + 1);
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/**
 * bpftrace's tracepoint probes need tracefs, which droptrace mounts itself when it needs it: a bench
 * that runs bpftrace mounts it too, so that its rows measure bpftrace, not "tracepoint not found".
 */
export function ensureTracefs(script) {
  if (existsSync('/sys/kernel/tracing/events') || existsSync('/sys/kernel/debug/tracing/events')) return;
  console.error(`${script}: tracefs is not mounted; mounting it on /sys/kernel/tracing for bpftrace`);
  execFileSync('mount', ['-t', 'tracefs', 'nodev', '/sys/kernel/tracing'], { stdio: 'inherit' });
}

export function which(cmd) {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

export function randomName() {
  return `dtbench-${randomBytes(3).toString('hex')}`;
}

/** Namespaces: NAME-tx and NAME-rx, a veth between them, the DROP rule on rx. Returns their facts. */
export function netnsUp(name, port) {
  const out = execFileSync('bash', [netnsScript, 'up', name, String(port)], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop());
}

export function netnsDown(name) {
  try {
    execFileSync('bash', [netnsScript, 'down', name], { stdio: 'ignore' });
  } catch {
    // down is best effort and idempotent; a failure here must not hide the original error
  }
}

export function netnsInfo(name, port) {
  // the nsfs bind mount's inode is the namespace's inode: what droptrace reports as `netns`
  const rx_inode = statSync(`/run/netns/${name}-rx`).ino;
  return { tx: `${name}-tx`, rx: `${name}-rx`, tx_addr: '10.231.0.1', rx_addr: '10.231.0.2', port, rx_inode };
}

export function netnsExists(name) {
  return existsSync(`/run/netns/${name}`);
}

/** The DROP rule's packet counter: the drops the storm made so far. */
export function dropCounter(name, port) {
  return Number(execFileSync('bash', [netnsScript, 'count', name, String(port)], { encoding: 'utf8' }).trim());
}

/** Runs the storm in the tx namespace; resolves with its JSON summary. */
export function runStorm(ns, { duration, cpu }) {
  const args = ['netns', 'exec', ns.tx, stormBin, '--dst', ns.rx_addr, '--port', String(ns.port)];
  args.push('--duration', String(duration), '--cpu', String(cpu));
  return new Promise((resolve, reject) => {
    const child = execFile('ip', args, { encoding: 'utf8', timeout: (duration + 10) * 1000 }, (err, stdout, stderr) => {
      liveChildren.delete(child);
      if (err) reject(new Error(`storm failed: ${err.message} ${stderr}`));
      else resolve(JSON.parse(stdout.trim()));
    });
    liveChildren.add(child);
  });
}

/** utime+stime of a whole process (all threads) in clock ticks, or null once it is gone. */
export function cpuTicks(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may hold spaces and parentheses: fields start after the last ')'
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return null;
  }
}

/** VmHWM and VmRSS in kB, and context switches summed over threads (a busy poller shows up here). */
export function memAndSwitches(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? Number.NaN);
    let switches = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const t = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
        switches += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(t)?.[1] ?? 0);
        switches += Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(t)?.[1] ?? 0);
      } catch {
        // the thread ended between readdir and read
      }
    }
    return { hwm_kb: kb('VmHWM'), rss_kb: kb('VmRSS'), switches };
  } catch {
    return null;
  }
}

/** Reads up to max bytes from the start of a file (a tracer's output, while it is being written). */
export function readHead(path, max = 65536) {
  let fd;
  try {
    fd = openSync(path, 'r');
    const buf = Buffer.alloc(max);
    const n = readSync(fd, buf, 0, max, 0);
    return buf.subarray(0, n).toString('utf8');
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function fileSize(path) {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/**
 * A tracer process with stdout to a file (or /dev/null) and stderr kept in memory (tail only).
 * Every child is remembered so a signal handler can stop it by PID.
 */
export const liveChildren = new Set();

export class Tracer {
  constructor(argv, { stdoutPath = null, cwd = repoDir, env = process.env } = {}) {
    this.argv = argv;
    this.stdoutPath = stdoutPath;
    // 'pipe': stdout kept in memory (head only) and timed as it arrives, for start-up measurements
    const out = stdoutPath === 'pipe' ? 'pipe' : stdoutPath ? openSync(stdoutPath, 'w') : 'ignore';
    this.startedAt = performance.now();
    this.child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', out, 'pipe'], cwd, env });
    if (typeof out === 'number') closeSync(out);
    this.pid = this.child.pid;
    this.stderr = '';
    this.stdout = '';
    this.onStdout = new Set();
    this.chunks = [];
    if (out === 'pipe') {
      this.child.stdout.setEncoding('utf8');
      this.child.stdout.on('data', (s) => {
        const at = performance.now();
        if (this.stdout.length < 65536) {
          this.stdout += s;
          this.chunks.push({ at, len: this.stdout.length });
        }
        for (const fn of this.onStdout) fn();
      });
    }
    this.exit = null;
    liveChildren.add(this.child);
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (s) => {
      // keep the head (start-up messages) and the tail (summaries), drop the middle
      this.stderr = this.stderr.length < 65536 ? this.stderr + s : this.stderr.slice(0, 32768) + s.slice(-32768);
    });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exit = { code, signal };
        liveChildren.delete(this.child);
        resolve(this.exit);
      });
      this.child.on('error', (err) => {
        this.exit = { code: null, signal: null, error: err.message };
        liveChildren.delete(this.child);
        resolve(this.exit);
      });
    });
    this.hwm_kb = null;
    this.sampler = setInterval(() => this.sample(), 200);
  }

  sample() {
    const m = memAndSwitches(this.pid);
    if (m && Number.isFinite(m.hwm_kb)) this.hwm_kb = Math.max(this.hwm_kb ?? 0, m.hwm_kb);
    return m;
  }

  /** Waits until `ready` holds: {stdout: RegExp} / {stderr: RegExp} on the output so far, or {delayMs}. */
  async waitReady(ready, timeoutMs = 15000) {
    const deadline = performance.now() + timeoutMs;
    if (ready.delayMs) {
      await Promise.race([sleep(ready.delayMs), this.exited]);
      if (this.exit) throw new Error(`exited before ready (${JSON.stringify(this.exit)}): ${this.stderr.slice(-400)}`);
      return performance.now() - this.startedAt;
    }
    if (ready.stdout && this.stdoutPath === 'pipe') return this.waitPipe(ready.stdout, deadline);
    for (;;) {
      if (ready.stdout && this.stdoutPath && ready.stdout.test(readHead(this.stdoutPath))) break;
      if (ready.stderr?.test(this.stderr)) break;
      if (this.exit) throw new Error(`exited before ready (${JSON.stringify(this.exit)}): ${this.stderr.slice(-400)}`);
      if (performance.now() > deadline) throw new Error(`not ready after ${timeoutMs} ms: ${this.stderr.slice(-400)}`);
      await sleep(5);
    }
    return performance.now() - this.startedAt;
  }

  /** Resolves with the time (ms since spawn) of the stdout chunk that made `re` match. */
  waitPipe(re, deadline) {
    return new Promise((resolve, reject) => {
      const done = (fn, v) => {
        this.onStdout.delete(check);
        clearTimeout(timer);
        fn(v);
      };
      // the arrival time of the first chunk after which the output matches
      const check = () => {
        const hit = this.chunks.find((c) => re.test(this.stdout.slice(0, c.len)));
        if (hit) done(resolve, hit.at - this.startedAt);
      };
      const timer = setTimeout(
        () => done(reject, new Error(`not ready in time: ${this.stderr.slice(-400)}`)),
        deadline - performance.now(),
      );
      this.exited.then(() => done(reject, new Error(`exited before ready (${JSON.stringify(this.exit)}): ${this.stderr.slice(-400)}`)));
      this.onStdout.add(check);
      check();
    });
  }

  /** SIGINT (let it flush and summarise), then SIGTERM, then SIGKILL: always by this PID. */
  async stop(graceMs = 15000) {
    this.sample();
    for (const [signal, wait] of [
      ['SIGINT', graceMs],
      ['SIGTERM', 3000],
      ['SIGKILL', 3000],
    ]) {
      if (this.exit) break;
      try {
        process.kill(this.pid, signal);
      } catch {
        break;
      }
      await Promise.race([this.exited, sleep(wait)]);
    }
    clearInterval(this.sampler);
    return this.exit;
  }
}

/** Stops every child still running, by PID: used by signal handlers and finally blocks. */
export function killLiveChildren() {
  for (const child of liveChildren) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * Counts NDJSON records in a (possibly GB-sized) file without holding it in memory:
 * lines with "type":"drop", and the sum of `count` over "type":"lost" and "type":"suppressed" lines.
 */
export function scanNdjson(path) {
  const result = { drops: 0, lost: 0, lost_records: 0, suppressed: 0, suppressed_records: 0, stop: null, start: null, lines: 0 };
  let fd;
  try {
    fd = openSync(path, 'r');
  } catch {
    return result;
  }
  const chunk = Buffer.alloc(16 << 20);
  let carry = Buffer.alloc(0);
  const dropKey = Buffer.from('"type":"drop"');
  const otherKey = Buffer.from('"type":"');
  try {
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      const buf = carry.length ? Buffer.concat([carry, chunk.subarray(0, n)]) : chunk.subarray(0, n);
      let pos = 0;
      for (;;) {
        const nl = buf.indexOf(10, pos);
        if (nl < 0) break;
        result.lines++;
        // records are built in a fixed key order with type first; tolerate leading spaces anyway
        const at = buf.indexOf(otherKey, pos);
        if (at >= 0 && at < nl) {
          if (buf.compare(dropKey, 0, dropKey.length, at, at + dropKey.length) === 0) {
            result.drops++;
          } else {
            const line = buf.toString('utf8', pos, nl);
            try {
              const rec = JSON.parse(line);
              if (rec.type === 'lost') {
                result.lost += Number(rec.count) || 0;
                result.lost_records++;
              } else if (rec.type === 'suppressed') {
                result.suppressed += Number(rec.count) || 0;
                result.suppressed_records++;
              } else if (rec.type === 'stop') {
                result.stop = rec;
              } else if (rec.type === 'start') {
                result.start = rec;
              }
            } catch {
              // a torn last line from a killed tracer
            }
          }
        }
        pos = nl + 1;
      }
      carry = Buffer.from(buf.subarray(pos));
    }
  } finally {
    closeSync(fd);
  }
  return result;
}

export function fmt(n, digits = 0) {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function markdownTable(headers, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

/**
 * Scratch files and namespaces of one bench script, removed on exit and on SIGINT/SIGTERM/SIGHUP:
 * `scratch(what)` names a file, `removeScratch()` deletes them; `cleanup()` kills the tracers started, deletes the files, and
 * the namespace pair when the script made it.
 */
export function benchSession(script, nsName, ownNetns) {
  const scratchFiles = new Set();
  const scratch = (what) => {
    const p = join(scratchDir, `${nsName}-${process.pid}-${what}`);
    scratchFiles.add(p);
    return p;
  };
  const removeScratch = () => {
    for (const p of scratchFiles) rmSync(p, { force: true });
  };
  const cleanup = () => {
    killLiveChildren();
    removeScratch();
    if (ownNetns) netnsDown(nsName);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      console.error(`${script}: ${signal}, cleaning up`);
      cleanup();
      process.exit(130);
    });
  }
  return { scratch, removeScratch, cleanup };
}

/**
 * Run time and run count of every BPF program a process holds open (its prog fds' fdinfo), summed:
 * with kernel.bpf_stats_enabled=1 the kernel keeps them per program. Null when it has none.
 */
export function bpfProgStats(pid) {
  let runTimeNs = 0;
  let runCnt = 0;
  let progs = 0;
  let fds;
  try {
    fds = readdirSync(`/proc/${pid}/fdinfo`);
  } catch {
    return null;
  }
  for (const fd of fds) {
    let info;
    try {
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue;
    }
    if (!/^prog_id:/m.test(info)) continue;
    progs++;
    runTimeNs += Number(/^run_time_ns:\s+(\d+)/m.exec(info)?.[1] ?? 0);
    runCnt += Number(/^run_cnt:\s+(\d+)/m.exec(info)?.[1] ?? 0);
  }
  return progs ? { progs, run_time_ns: runTimeNs, run_cnt: runCnt } : null;
}

const BPF_STATS = '/proc/sys/kernel/bpf_stats_enabled';

/** Turns kernel.bpf_stats_enabled on; returns the function that restores what it was. */
export function enableBpfStats() {
  let before;
  try {
    before = readFileSync(BPF_STATS, 'utf8').trim();
    writeFileSync(BPF_STATS, '1');
  } catch {
    return () => {};
  }
  let restored = false;
  return () => {
    if (restored) return;
    restored = true;
    try {
      writeFileSync(BPF_STATS, before);
    } catch {
      // nothing more to do: the value is printed at start so a person can restore it
    }
  };
}

/**
 * The busy host: a CPU-bound process on every CPU but the storm's, competing with the tracer
 * (the storm's softirq stays on its own CPU). Returns its stop function.
 */
export function startCompetitor(stormCpu, cpus) {
  const others = [];
  for (let c = 0; c < cpus; c++) if (c !== stormCpu) others.push(c);
  const list = (others.length ? others : [stormCpu]).join(',');
  const child = spawn('taskset', ['-c', list, 'sh', '-c', 'while :; do :; done'], { stdio: 'ignore' });
  liveChildren.add(child);
  return () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => {
        liveChildren.delete(child);
        resolve();
      });
      process.kill(child.pid, 'SIGKILL');
    });
}
