import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NetnsPaths } from '../../src/kernel/netns-paths.js';
import { ListenWatch } from '../../src/listen-watch.js';

// a /proc of its own: <pid>/ns/net is a symlink whose text is what the kernel's says, net:[inode]
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function fakeProc(): { dir: string; process(pid: number, netns: number, listenDrops: number): void } {
  const dir = mkdtempSync(join(tmpdir(), 'dt-listen-watch-'));
  dirs.push(dir);
  return {
    dir,
    process(pid, netns, listenDrops) {
      mkdirSync(join(dir, String(pid), 'ns'), { recursive: true });
      mkdirSync(join(dir, String(pid), 'net'), { recursive: true });
      rmSync(join(dir, String(pid), 'ns', 'net'), { force: true });
      symlinkSync(`net:[${netns}]`, join(dir, String(pid), 'ns', 'net'));
      writeFileSync(
        join(dir, String(pid), 'net', 'netstat'),
        `TcpExt: SyncookiesSent ListenOverflows ListenDrops\nTcpExt: 0 ${listenDrops} ${listenDrops}\n`,
      );
    },
  };
}

function watch(proc: string, namespaces: number[] | null, clock: { t: number }) {
  const calls: boolean[] = [];
  const lines: string[] = [];
  let on = false;
  const w = new ListenWatch({
    namespaces: () => namespaces,
    set: (want) => {
      calls.push(want);
      on = want;
      return on;
    },
    log: (l) => lines.push(l),
    nameOf: (n) => (n === 11 ? 'web' : undefined),
    procDir: proc,
    // no `ip netns` names here: only the processes of this /proc
    paths: new NetnsPaths(join(proc, 'no-run-netns'), () => clock.t, proc),
    quietMs: 60_000,
    now: () => clock.t,
  });
  return { w, calls, lines };
}

describe('ListenWatch: the SYN program runs only while listeners refuse', () => {
  it('attaches on the first rise of a traced namespace, not before, and detaches after a quiet minute', async () => {
    const proc = fakeProc();
    proc.process(100, 11, 5);
    const clock = { t: 0 };
    const { w, calls, lines } = watch(proc.dir, [11], clock);
    await w.tick(); // the baseline
    clock.t += 1000;
    await w.tick(); // unchanged
    expect(calls).toEqual([]);
    proc.process(100, 11, 6);
    clock.t += 1000;
    await w.tick();
    expect(calls).toEqual([true]);
    expect(w.active).toBe(true);
    expect(lines[0]).toMatch(/^listeners in web are refusing connections/);
    clock.t += 59_000;
    await w.tick(); // quiet, but not for a minute yet
    expect(calls).toEqual([true]);
    clock.t += 1000;
    await w.tick();
    expect(calls).toEqual([true, false]);
    expect(w.active).toBe(false);
    expect(lines[1]).toMatch(/no longer traced/);
  });

  it('ignores namespaces that are not traced, and watches every one when all are', async () => {
    const proc = fakeProc();
    proc.process(100, 11, 0);
    proc.process(200, 22, 0);
    const clock = { t: 0 };
    const only = watch(proc.dir, [11], clock);
    const all = watch(proc.dir, null, clock);
    await Promise.all([only.w.tick(), all.w.tick()]);
    proc.process(200, 22, 3);
    clock.t += 1000;
    await Promise.all([only.w.tick(), all.w.tick()]);
    expect(only.calls).toEqual([]);
    expect(all.calls).toEqual([true]);
    expect(all.lines[0]).toMatch(/^listeners in netns:22 /);
  });

  it('does not read another namespace through a pid that moved to it', async () => {
    const proc = fakeProc();
    proc.process(100, 11, 0);
    const clock = { t: 0 };
    const { w, calls } = watch(proc.dir, [11], clock);
    await w.tick();
    // pid 100 is now a process of namespace 33, whose counter is higher
    proc.process(100, 33, 50);
    clock.t += 1000;
    await w.tick();
    expect(calls).toEqual([]);
    // once the pid is back in 11 (a rescan finds it), its counter is read again from its own baseline
    proc.process(100, 11, 0);
    clock.t += 5000;
    await w.tick();
    proc.process(100, 11, 1);
    clock.t += 1000;
    await w.tick();
    expect(calls).toEqual([true]);
  });

  it('a program the kernel refuses to attach is said once, and the watch ends', async () => {
    const proc = fakeProc();
    proc.process(100, 11, 0);
    let calls = 0;
    const lines: string[] = [];
    const w = new ListenWatch({
      namespaces: () => [11],
      set: () => {
        calls++;
        throw new Error('attach tp_btf/consume_skb: Permission denied');
      },
      log: (l) => lines.push(l),
      procDir: proc.dir,
      paths: new NetnsPaths(join(proc.dir, 'no-run-netns'), Date.now, proc.dir),
    });
    await w.tick();
    proc.process(100, 11, 1);
    await w.tick();
    proc.process(100, 11, 2);
    await w.tick();
    expect(calls).toBe(1);
    expect(lines).toEqual(['cannot trace refused SYNs: attach tp_btf/consume_skb: Permission denied']);
  });
});
