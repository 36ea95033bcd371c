/**
 * The in-kernel rate limit under a storm this test makes: every drop the kernel matched is either
 * in the stream, in a `suppressed` record of its key, or reported lost, exactly; the limit is per
 * key, so a second kind of drop in the same storm is still delivered; a key's first events are
 * streamed as they happen.
 */
import { availableParallelism } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import type { DropRecord, DroptraceRecord, Finding, StopRecord, SuppressedRecord } from '../../src/events.js';
import { DroptraceRun } from '../helpers/droptrace-cli.js';
import { SKIP_KERNEL } from '../helpers/kernel-env.js';
import { Lab, PYTHON } from './lab/netns.js';
import { retransmitRto } from './lab/scenarios.js';

const labs: Lab[] = [];
const runs: DroptraceRun[] = [];

afterEach(async () => {
  for (const run of runs.splice(0)) run.kill();
  for (const lab of labs.splice(0)) await lab.destroy();
});

const UDP_PORT = 9;
const TCP_PORT = 7;
const DATAGRAMS = 30_000;

/**
 * From a, as fast as python goes: DATAGRAMS UDP datagrams to a closed port in b (NO_SOCKET at
 * __udp4_lib_rcv), with a TCP connect to a closed port (NO_SOCKET at tcp_v4_rcv, another key)
 * every 3000 of them.
 */
async function storm(lab: Lab): Promise<{ connects: number }> {
  const script = `
import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
connects = 0
for i in range(${DATAGRAMS}):
    u.sendto(b"x", ("${lab.b.ipv4}", ${UDP_PORT}))
    if i % 3000 == 0:
        t = socket.socket()
        try:
            t.connect(("${lab.b.ipv4}", ${TCP_PORT}))
        except OSError:
            pass
        t.close()
        connects += 1
print(connects)
`;
  const r = await lab.exec('a', PYTHON, ['-c', script], { timeoutMs: 30_000 });
  return { connects: Number(r.stdout.trim()) };
}

async function newLab(): Promise<Lab> {
  const lab = await Lab.create('dtrl');
  labs.push(lab);
  return lab;
}

async function traced(args: string[]): Promise<DroptraceRun> {
  const run = await DroptraceRun.start(args);
  runs.push(run);
  return run;
}

const fn = (location: string | null) => location?.replace(/\+0x[0-9a-f]+$/, '') ?? '';

/** Stops the run after the storm and checks the accounting that holds for any limit. */
async function stopAndAccount(run: DroptraceRun): Promise<{ records: DroptraceRecord[]; stop: StopRecord }> {
  // one stats interval, so the last suppressed records of the storm come before stop
  await new Promise((r) => setTimeout(r, 1200));
  expect(await run.stop()).toBe(0);
  const records = run.records();
  const stop = records.at(-1) as StopRecord;
  expect(stop.type).toBe('stop');
  const events = records.filter((r) => r.type === 'drop' || r.type === 'retransmit').length;
  const suppressed = records.filter((r): r is SuppressedRecord => r.type === 'suppressed').reduce((n, r) => n + r.count, 0);
  const lost = records.filter((r) => r.type === 'lost').reduce((n, r) => n + (r.type === 'lost' ? r.count : 0), 0);
  // --all: nothing hidden, so the stream holds every delivered event
  expect(events).toBe(stop.events);
  expect(suppressed).toBe(stop.suppressed);
  expect(lost).toBe(stop.lost);
  // the kernel's own count of what matched, exactly
  expect(stop.events + stop.suppressed + stop.lost).toBe(stop.drops + stop.retransmits + stop.connects);
  return { records, stop };
}

describe.skipIf(SKIP_KERNEL)('--rate-limit: storms held back in the kernel, counted exactly', () => {
  it('the --json default: a key over its limit is suppressed, its first events and a second kind are delivered', async () => {
    const lab = await newLab();
    const run = await traced(['--json', '--all', '--netns', lab.b.ns]);
    const { connects } = await storm(lab);
    const { records, stop } = await stopAndAccount(run);

    const start = records[0];
    expect(start).toMatchObject({ type: 'start', rate_limit: 100 });
    const isUdp = (r: DroptraceRecord) => (r.type === 'drop' || r.type === 'suppressed') && fn(r.location) === '__udp4_lib_rcv';
    const isTcp = (r: DroptraceRecord) => (r.type === 'drop' || r.type === 'suppressed') && fn(r.location) === 'tcp_v4_rcv';
    const udpDrops = records.filter((r): r is DropRecord => r.type === 'drop' && isUdp(r));
    const udpSuppressed = records.filter((r): r is SuppressedRecord => r.type === 'suppressed' && isUdp(r));
    expect(stop.lost).toBe(0);
    // the storm's key went over its limit: most of it counted, not streamed
    expect(udpSuppressed.length).toBeGreaterThan(0);
    expect(udpSuppressed.reduce((n, r) => n + r.count, 0)).toBeGreaterThan(DATAGRAMS / 2);
    for (const s of udpSuppressed) expect(s).toMatchObject({ event: 'drop', reason: 'NO_SOCKET', netns: lab.b.inode, rate_limit: 100 });
    // its first events were streamed: a whole window's worth before the first suppressed record
    const firstSuppressed = records.indexOf(udpSuppressed[0]);
    expect(records.slice(0, firstSuppressed).filter((r) => r.type === 'drop' && isUdp(r)).length).toBeGreaterThanOrEqual(100);
    expect(udpDrops.length + udpSuppressed.reduce((n, r) => n + r.count, 0)).toBe(DATAGRAMS);
    // the second kind, far under its own limit, is delivered whole in the middle of the storm
    const tcpDrops = records.filter((r) => r.type === 'drop' && isTcp(r));
    expect(tcpDrops.length).toBeGreaterThanOrEqual(connects);
    expect(records.filter((r) => r.type === 'suppressed' && isTcp(r))).toEqual([]);
    // the summary is the kernel's: exact whatever the limit held back
    expect(stop.by_reason.NO_SOCKET).toBe(udpDrops.length + udpSuppressed.reduce((n, r) => n + r.count, 0) + tcpDrops.length);
  });

  it("a key's window is one second: a steady trickle is let through a few events each second", async () => {
    const lab = await newLab();
    const limit = 3;
    const seconds = 3.5;
    const run = await traced(['--json', '--all', '--rate-limit', String(limit), '--netns', lab.b.ns]);
    const script = `
import socket, time
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.monotonic() + ${seconds}
while time.monotonic() < end:
    u.sendto(b"x", ("${lab.b.ipv4}", ${UDP_PORT}))
    time.sleep(0.005)
`;
    await lab.exec('a', PYTHON, ['-c', script], { timeoutMs: 20_000 });
    const { records } = await stopAndAccount(run);
    const delivered = records.filter((r) => r.type === 'drop' && fn(r.location) === '__udp4_lib_rcv').length;
    // a window per second and CPU that the drops land on: at least three windows opened, and none
    // shorter than a second (a tick rate read wrong would make them 4x longer or shorter)
    const cpus = availableParallelism();
    expect(delivered).toBeGreaterThanOrEqual(limit * 3);
    expect(delivered).toBeLessThanOrEqual(limit * cpus * Math.ceil(seconds + 1));
  });

  it('--rate-limit 0 streams every drop: delivered + lost is what the kernel matched', async () => {
    const lab = await newLab();
    const run = await traced(['--json', '--all', '--rate-limit', '0', '--netns', lab.b.ns]);
    await storm(lab);
    const { records, stop } = await stopAndAccount(run);
    expect(records[0]).toMatchObject({ type: 'start', rate_limit: 0 });
    expect(stop.suppressed).toBe(0);
    expect(records.filter((r) => r.type === 'suppressed')).toEqual([]);
    expect(stop.events + stop.lost).toBeGreaterThanOrEqual(DATAGRAMS);
  });

  it('retransmits have their own key: a namespace over its limit is suppressed, drops elsewhere still go through', async () => {
    const lab = await newLab();
    const run = await traced(['--json', '--all', '--rate-limit', '1', '--netns', lab.a.ns, '--netns', lab.b.ns]);
    await retransmitRto(lab, { connections: 6 });
    const { records, stop } = await stopAndAccount(run);
    const held = records.filter((r): r is SuppressedRecord => r.type === 'suppressed' && r.event === 'retransmit');
    expect(held.length).toBeGreaterThan(0);
    for (const h of held) expect(h).toMatchObject({ netns: lab.a.inode, reason: null, location: null, rate_limit: 1 });
    expect(records.some((r) => r.type === 'retransmit' && r.netns === lab.a.inode)).toBe(true);
    // b's firewall drops the retransmitted segments: a drop key of its own, delivered too
    expect(records.some((r) => r.type === 'drop' && r.netns === lab.b.inode && r.reason === 'NETFILTER_DROP')).toBe(true);
    expect(stop.lost).toBe(0);
    expect(stop.retransmits).toBe(records.filter((r) => r.type === 'retransmit').length + held.reduce((n, r) => n + r.count, 0));
  });

  it('the human stream says what it held back, per key', async () => {
    const lab = await newLab();
    const run = await traced(['--all', '--rate-limit', '5', '--netns', lab.b.ns]);
    await storm(lab);
    await new Promise((r) => setTimeout(r, 1200));
    expect(await run.stop()).toBe(0);
    const held = run.stdout.split('\n').filter((l) => l.includes('counted, not shown') && l.includes('__udp4_lib_rcv'));
    expect(held.length).toBeGreaterThan(0);
    expect(held[0]).toMatch(new RegExp(`netns:${lab.b.inode}  \\d+ more NO_SOCKET at __udp4_lib_rcv\\+0x[0-9a-f]+ \\(\\d+ in all\\)`));
    expect(run.stderr).toMatch(/\d+ events delivered, \d+ suppressed by the rate limit, 0 lost/);
  });

  it('explain counts what the limit held back in its findings', async () => {
    const lab = await newLab();
    const run = await traced(['explain', '--json', '--duration', '4', '--netns', lab.b.ns]);
    await storm(lab);
    expect(await run.exited).toBe(0);
    const records = run.records();
    const stop = records.at(-1) as StopRecord;
    expect(stop.suppressed).toBeGreaterThan(0);
    const udp = records.find((r): r is Finding => r.type === 'finding' && r.locations.some((l) => fn(l) === '__udp4_lib_rcv'));
    expect(udp).toMatchObject({ reason: 'NO_SOCKET', layer: 'transport', count: DATAGRAMS });
  });
});
