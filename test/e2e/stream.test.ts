/**
 * The drop stream end to end: the real BPF programs in this kernel, real drops made in namespaces
 * this test creates, and what `droptrace --json --netns …` printed, record by record.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CountsRecord, DropRecord, RetransmitRecord } from '../../src/events.js';
import { DroptraceRun } from '../helpers/droptrace-cli.js';
import { SKIP_KERNEL } from '../helpers/kernel-env.js';
import { sample } from '../helpers/samples.js';
import { dropMismatches, retransmitMismatches } from './lab/match.js';
import { Lab } from './lab/netns.js';
import { type DropFacts, type Facts, type RetransmitFacts, SCENARIOS } from './lab/scenarios.js';

const labs: Lab[] = [];
const runs: DroptraceRun[] = [];

afterEach(async () => {
  for (const run of runs.splice(0)) run.kill();
  for (const lab of labs.splice(0)) await lab.destroy();
});

async function newLab(): Promise<Lab> {
  const lab = await Lab.create('dtstream');
  labs.push(lab);
  return lab;
}

async function trace(args: string[]): Promise<DroptraceRun> {
  const run = await DroptraceRun.start(['--json', ...args]);
  runs.push(run);
  return run;
}

const fn = (location: string) => location.replace(/\+0x[0-9a-f]+$/, '');

/** The drop the scenario made (its reason, namespace, place and flow); dropMismatches() then checks every other fact. */
function matchesDrop(r: DropRecord, f: DropFacts): boolean {
  return (
    r.reason === f.reason &&
    r.netns === f.netns &&
    f.locations.includes(fn(r.location)) &&
    r.family === f.family &&
    r.proto === f.proto &&
    r.daddr === f.daddr &&
    r.saddr === f.saddr &&
    f.dports.includes(r.dport ?? -1)
  );
}

function matchesRetransmit(r: RetransmitRecord, f: RetransmitFacts): boolean {
  return r.kind === f.kind && r.netns === f.netns && r.family === f.family && r.saddr === f.saddr && r.daddr === f.daddr;
}

const DROP_SCENARIOS = [
  'netfilter',
  'netfilter-ipv6',
  'tcp-closed-port',
  'udp-closed-port',
  'udp-closed-port-ipv6',
  'udp-rcvbuf',
  'qdisc-tbf',
  'mtu',
  'listen-overflow',
  'rp-filter',
  'no-route',
];
const RETRANSMIT_SCENARIOS = ['retransmit-rto', 'retransmit-fast', 'retransmit-syn', 'retransmit-synack'];

describe.skipIf(SKIP_KERNEL)('droptrace --json streams real drops', () => {
  it.each(DROP_SCENARIOS)('%s', async (name) => {
    const lab = await newLab();
    const run = await trace(['--netns', lab.a.ns, '--netns', lab.b.ns]);
    const facts = (await SCENARIOS[name](lab)) as DropFacts;
    const first = await run.waitFor((r): r is DropRecord => r.type === 'drop' && matchesDrop(r, facts));
    expect(await run.stop()).toBe(0);
    sample(name, JSON.stringify(first));

    const drops = run.drops().filter((r) => matchesDrop(r, facts));
    expect(drops.length).toBeGreaterThanOrEqual(Math.min(facts.minEvents, 3));
    // direction, device, veth peer, ports: every fact the scenario promised
    expect(dropMismatches(facts, first)).toEqual([]);
    for (const d of drops) expect(facts.sports).toContain(d.sport);
    // nothing outside the two namespaces (a veth's peer counts as inside)
    for (const d of run.drops())
      expect([lab.a.inode, lab.b.inode]).toContain(d.peer && d.netns !== lab.a.inode && d.netns !== lab.b.inode ? d.peer.netns : d.netns);
    const records = run.records();
    expect(records[0].type).toBe('start');
    expect(records.at(-1)?.type).toBe('stop');
  });

  it.each(RETRANSMIT_SCENARIOS)('%s', async (name) => {
    const lab = await newLab();
    const run = await trace(['--netns', lab.a.ns, '--netns', lab.b.ns]);
    const facts = (await SCENARIOS[name](lab)) as RetransmitFacts;
    const first = await run.waitFor((r): r is RetransmitRecord => r.type === 'retransmit' && matchesRetransmit(r, facts));
    expect(await run.stop()).toBe(0);
    sample(name, JSON.stringify(first));
    expect(retransmitMismatches(facts, first)).toEqual([]);
    expect(first).toMatchObject({ state: facts.state, proto: 'tcp' });
  });
});

describe.skipIf(SKIP_KERNEL)('the classic-tracepoint fallback (kernels where tp_btf cannot attach)', () => {
  it.each(['udp-closed-port', 'retransmit-syn'])('%s is reported the same way', async (name) => {
    const lab = await newLab();
    const run = await trace(['--attach', 'tracepoint', '--netns', lab.a.ns, '--netns', lab.b.ns]);
    const facts = await SCENARIOS[name](lab);
    const hit = await run.waitFor((r): r is DropRecord | RetransmitRecord =>
      facts.type === 'drop' ? r.type === 'drop' && matchesDrop(r, facts) : r.type === 'retransmit' && matchesRetransmit(r, facts),
    );
    expect(await run.stop()).toBe(0);
    expect(run.records()[0]).toMatchObject({ type: 'start', program: 'tracepoint' });
    expect(hit.netns).toBe(facts.netns);
  });
});

describe.skipIf(SKIP_KERNEL)('in-kernel filters', () => {
  it('shows drops of the namespace asked for, never those of another', async () => {
    const mine = await newLab();
    const other = await newLab();
    const run = await trace(['--netns', mine.b.ns]);
    const [theirs, ours] = await Promise.all([
      SCENARIOS['udp-closed-port'](other) as Promise<DropFacts>,
      SCENARIOS['udp-closed-port'](mine) as Promise<DropFacts>,
    ]);
    await run.waitFor((r) => r.type === 'drop' && matchesDrop(r, ours));
    expect(await run.stop()).toBe(0);
    const drops = run.drops();
    expect(drops.some((d) => matchesDrop(d, theirs))).toBe(false);
    expect(drops.filter((d) => d.netns === other.a.inode || d.netns === other.b.inode)).toEqual([]);
  });

  it('--reason and --proto narrow what is streamed', async () => {
    const lab = await newLab();
    const run = await trace(['--netns', lab.b.ns, '--reason', 'NETFILTER_DROP', '--proto', 'udp']);
    const closed = (await SCENARIOS['udp-closed-port'](lab)) as DropFacts;
    const filtered = (await SCENARIOS.netfilter(lab)) as DropFacts;
    await run.waitFor((r) => r.type === 'drop' && matchesDrop(r, filtered));
    expect(await run.stop()).toBe(0);
    expect(run.drops().some((d) => matchesDrop(d, closed))).toBe(false);
    expect(run.drops().every((d) => d.reason === 'NETFILTER_DROP' && d.proto === 'udp')).toBe(true);
  });

  it('--port keeps only packets with that port at either end', async () => {
    const lab = await newLab();
    const facts = (await SCENARIOS['udp-closed-port'](lab)) as DropFacts;
    const run = await trace(['--netns', lab.b.ns, '--port', String(facts.dports[0])]);
    const again = (await SCENARIOS['udp-closed-port'](lab)) as DropFacts;
    const other = await run
      .waitFor((r) => r.type === 'drop' && matchesDrop(r, again), 3000)
      .then(() => true)
      .catch(() => false);
    expect(await run.stop()).toBe(0);
    // a random port of the second run: it only shows when it equals the first one's
    expect(other).toBe(again.dports[0] === facts.dports[0]);
    expect(run.drops().every((d) => d.sport === facts.dports[0] || d.dport === facts.dports[0])).toBe(true);
  });
});

describe.skipIf(SKIP_KERNEL)('droptrace top: counts in the kernel, no events', () => {
  it('counts every drop of the namespace exactly, by reason and location', async () => {
    const lab = await newLab();
    const run = await DroptraceRun.start(['top', '--json', '--netns', lab.b.ns, '--interval', '0.5', '--duration', '3']);
    runs.push(run);
    const facts = (await SCENARIOS['udp-closed-port'](lab)) as DropFacts;
    expect(await run.exited).toBe(0);
    const last = run
      .records()
      .filter((r) => r.type === 'counts')
      .at(-1) as CountsRecord;
    const row = last.rows.find((r) => r.reason === 'NO_SOCKET' && r.netns === lab.b.inode);
    expect(row?.location).toMatch(/^__udp4_lib_rcv\+0x/);
    // each datagram sent to the closed port is one drop, none missed, none extra
    expect(row?.count).toBe(facts.sent);
  });
});

describe.skipIf(SKIP_KERNEL)('stopping by itself and reporting', () => {
  it('--count stops after that many events and still prints stop', async () => {
    const lab = await newLab();
    const run = await trace(['--netns', lab.b.ns, '--count', '3']);
    await SCENARIOS['udp-closed-port'](lab);
    expect(await run.exited).toBe(0);
    const records = run.records();
    expect(records.filter((r) => r.type === 'drop')).toHaveLength(3);
    expect(records.at(-1)).toMatchObject({ type: 'stop' });
    expect(run.stderr).toMatch(/NO_SOCKET\s+\d+/);
  });

  it('--duration stops after that long', async () => {
    // a namespace with nothing in it: no drops, only start and stop
    const idle = await (await newLab()).addNamespace('idle');
    const started = Date.now();
    const { code, records } = await DroptraceRun.run(['--json', '--netns', idle.ns, '--duration', '0.5']);
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(records.map((r) => r.type)).toEqual(['start', 'stop']);
  });
});

export type { Facts };
