/**
 * A reader that is slow or stopped: loss is reported in the stream without waiting behind queued
 * JSON, Ctrl-C ends the process promptly whatever the reader does, and what it never took is
 * counted as lost in the stop record (on stderr when stdout is not being read).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import type { DroptraceRecord, LostRecord, StopRecord } from '../../src/events.js';
import { BIN } from '../helpers/droptrace-cli.js';
import { SKIP_KERNEL } from '../helpers/kernel-env.js';
import { Lab, PYTHON } from './lab/netns.js';

const STALLED = new URL('./lab/stalled-reader.py', import.meta.url).pathname;

let lab: Lab | undefined;
let tracer: ChildProcess | undefined;

afterEach(async () => {
  if (tracer && tracer.exitCode === null) tracer.kill('SIGKILL');
  tracer = undefined;
  await lab?.destroy();
  lab = undefined;
});

/** UDP to a closed port in b as fast as one sender goes, for `seconds`: a NO_SOCKET storm. */
function flood(l: Lab, seconds: number): ChildProcess {
  const py = `import socket,time
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)
end=time.time()+${seconds}
while time.time()<end:
  for i in range(1000): s.sendto(b"x",("${l.b.ipv4}",9))`;
  return l.spawn('a', PYTHON, ['-c', py]);
}

function startTracer(l: Lab): { child: ChildProcess; started: Promise<void>; stderr: () => string } {
  // every event streamed (no rate limit): the reader is what falls behind
  const child = spawn(process.execPath, [BIN, '--json', '--rate-limit', '0', '--netns', l.b.ns], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const started = new Promise<void>((resolve, reject) => {
    child.stdout?.once('readable', () => resolve());
    child.once('exit', (code) => reject(new Error(`droptrace exited ${code}: ${err}`)));
  });
  return { child, started, stderr: () => err };
}

const exited = (c: ChildProcess) => new Promise<number>((resolve) => c.once('exit', (code, sig) => resolve(code ?? (sig ? 128 : 1))));

describe.skipIf(SKIP_KERNEL)('a slow or stopped reader', () => {
  it('SIGINT with a stopped reader: exits at once with status 0, the stop record on stderr counts what was never read', async () => {
    lab = await Lab.create('dthx-slow');
    const t = startTracer(lab);
    tracer = t.child;
    await t.started;
    // the reader stops: nothing more is read from the pipe
    t.child.stdout?.pause();
    const sender = flood(lab, 3);
    await exited(sender);
    const done = exited(t.child);
    const sent = Date.now();
    t.child.kill('SIGINT');
    // before: the process waited for the reader; give it 5 s, then let the reader resume
    const resume = setTimeout(() => t.child.stdout?.resume(), 5000);
    const code = await done;
    const took = Date.now() - sent;
    clearTimeout(resume);
    expect(code).toBe(0);
    expect(took, t.stderr()).toBeLessThan(5000);
    const m = /stdout is not being read; the stop record:\n(.*)\n/.exec(t.stderr());
    expect(m, t.stderr()).not.toBeNull();
    const stop = JSON.parse(m?.[1] ?? '{}') as StopRecord;
    expect(stop.type).toBe('stop');
    expect(stop.lost).toBeGreaterThan(0);
  });

  it.each([
    ['top --json', ['top', '--json', '--interval', '0.1']],
    ['explain --json', ['explain', '--json', '--duration', '60']],
  ])('%s with a stopped reader ends promptly after SIGINT', async (_name, args) => {
    lab = await Lab.create('dthx-slow');
    const sender = flood(lab, 3);
    const r = spawnSync(PYTHON, [STALLED, '4', process.execPath, BIN, ...args, '--netns', lab.b.ns], { encoding: 'utf8', timeout: 30_000 });
    await exited(sender).catch(() => undefined);
    const m = /^exit (\d+) after ([\d.]+)/.exec(r.stdout);
    expect(m, r.stdout + r.stderr).not.toBeNull();
    expect(Number(m?.[1])).toBe(0);
    expect(Number(m?.[2])).toBeLessThan(3);
  });

  it('a slow reader gets the first lost record behind little JSON, not megabytes', async () => {
    lab = await Lab.create('dthx-slow');
    const t = startTracer(lab);
    tracer = t.child;
    await t.started;
    const out = t.child.stdout;
    if (!out) throw new Error('no stdout');
    // about 100 KB/s: 10 KB every 100 ms
    out.pause();
    let text = '';
    let bytesAtFirstLost = -1;
    const reader = setInterval(() => {
      for (let chunk = out.read(10_000); chunk !== null; chunk = null) {
        text += chunk.toString();
        if (bytesAtFirstLost < 0 && text.includes('"type":"lost"')) bytesAtFirstLost = text.indexOf('"type":"lost"');
      }
    }, 100);
    const sender = flood(lab, 4);
    await exited(sender);
    const deadline = Date.now() + 8000;
    while (bytesAtFirstLost < 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    t.child.kill('SIGINT');
    await exited(t.child);
    clearInterval(reader);
    // the first loss record was in the stream within seconds of a 4 s storm, behind well under 1 MB
    expect(bytesAtFirstLost).toBeGreaterThan(0);
    expect(bytesAtFirstLost).toBeLessThan(1_000_000);
    const records = text
      .split('\n')
      .slice(0, -1)
      .filter((l) => l.startsWith('{') && l.endsWith('}'))
      .map((l) => JSON.parse(l) as DroptraceRecord);
    const lost = records.filter((r): r is LostRecord => r.type === 'lost');
    expect(lost.length).toBeGreaterThan(0);
  });
});
