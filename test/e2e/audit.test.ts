/**
 * The audit against the kernel's own counters: for the lab's scenarios the namespaces' counters
 * moved exactly as much as droptrace traced, and a tracer filtered to miss a reason says what it
 * missed. `nstat` in the namespace is the judge of the audit's own deltas.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/events.js';
import { DroptraceRun } from '../helpers/droptrace-cli.js';
import { SKIP_KERNEL } from '../helpers/kernel-env.js';
import { sample } from '../helpers/samples.js';
import { delta, nstat } from './lab/counters.js';
import { Lab } from './lab/netns.js';
import { SCENARIOS } from './lab/scenarios.js';

const labs: Lab[] = [];
const runs: DroptraceRun[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) r.kill();
  for (const l of labs.splice(0)) await l.destroy();
});

/** scenario → the counter it must move, in the namespace that carries its drops */
const CASES: Record<string, string | ((lab: Lab) => string)> = {
  // the sender's veth counts what it could not hand to a peer whose MTU is 100
  mtu: (lab) => `dev:${lab.a.ifname}:tx_dropped`,
  'udp-closed-port': 'UdpNoPorts',
  'udp-closed-port-ipv6': 'Udp6NoPorts',
  'udp-rcvbuf': 'UdpRcvbufErrors',
  'no-route': 'IpInAddrErrors',
  'no-route-forwarding': 'IpExtInNoRoutes',
  'listen-overflow': 'TcpExtListenOverflows',
  'retransmit-rto': 'TcpRetransSegs',
  'retransmit-synack': 'TcpRetransSegs',
};

/** nstat's counters, and `ip -s link`'s drop counters of the namespace's devices as dev:<ifname>:tx_dropped. */
async function counters(lab: Lab, side: 'a' | 'b'): Promise<Record<string, number>> {
  const c = await nstat(lab, side);
  const links = JSON.parse((await lab.ip(side, ['-s', '-j', 'link', 'show'])).stdout) as {
    ifname: string;
    stats64: { tx: { dropped: number } };
  }[];
  for (const l of links) c[`dev:${l.ifname}:tx_dropped`] = l.stats64.tx.dropped;
  return c;
}

const audits = (run: DroptraceRun) => run.records().filter((r): r is AuditRecord => r.type === 'audit');

describe.skipIf(SKIP_KERNEL)('audit against the kernel counters', () => {
  it.each(Object.entries(CASES))('%s: its counter moved as much as droptrace traced, nothing missed', async (name, counterOf) => {
    const lab = await Lab.create('dtau');
    labs.push(lab);
    const counter = typeof counterOf === 'string' ? counterOf : counterOf(lab);
    // --listen-syn always: a SYN refused before the program's first attachment would be untraced
    const run = await DroptraceRun.start(['--json', '--all', '--listen-syn', 'always', '--netns', lab.a.ns, '--netns', lab.b.ns]);
    runs.push(run);
    const before = { a: await counters(lab, 'a'), b: await counters(lab, 'b') };
    const facts = await SCENARIOS[name](lab);
    await new Promise((r) => setTimeout(r, 300));
    expect(await run.stop()).toBe(0);
    const after = { a: await counters(lab, 'a'), b: await counters(lab, 'b') };
    const records = audits(run);
    const row = records.find((r) => r.netns === facts.netns && r.counter === counter);
    expect(row, JSON.stringify(records)).toBeDefined();
    const a = row as AuditRecord;
    // nstat's own delta brackets the audit's (read just outside the tracer's start and stop)
    const judge = delta(before[facts.side], after[facts.side], [counter])[counter];
    expect(a.delta).toBeGreaterThan(0);
    expect(a.delta).toBeLessThanOrEqual(judge);
    expect(
      records.filter((r) => r.untraced > 0),
      JSON.stringify(records),
    ).toEqual([]);
    // the end counters are read while still attached: anything after them can only be traced too
    expect(a.traced).toBeGreaterThanOrEqual(a.delta);
    if (!name.startsWith('retransmit') && name !== 'listen-overflow') expect(a.traced).toBe(a.delta);
    sample(`audit ${name}`, JSON.stringify(a));
  });

  it('a tracer filtered to miss a reason says what the kernel counted and it did not see', async () => {
    const lab = await Lab.create('dtau');
    labs.push(lab);
    const run = await DroptraceRun.start(['--json', '--all', '--reason', 'NETFILTER_DROP', '--netns', lab.a.ns, '--netns', lab.b.ns]);
    runs.push(run);
    const facts = await SCENARIOS['udp-closed-port'](lab);
    await new Promise((r) => setTimeout(r, 300));
    expect(await run.stop()).toBe(0);
    const row = audits(run).find((r) => r.netns === facts.netns && r.counter === 'UdpNoPorts');
    expect(row).toMatchObject({ traced: 0, traced_as: 'NO_SOCKET drops at __udp4_lib_rcv' });
    expect(row?.delta).toBeGreaterThanOrEqual(facts.minEvents);
    expect(row?.untraced).toBe(row?.delta);
    expect(run.stderr).toMatch(/audit: the kernel counted drops droptrace did not see: \S+ UdpNoPorts \+\d+, 0 traced/);
    sample('audit filtered', JSON.stringify(row));
  });

  // top counts only: the drop counters (keyed by how a drop was seen) and the retransmit counters
  // (with their segments) are what the namespaces' counters are held against, every interval
  it.each([
    ['udp-closed-port', 'UdpNoPorts'],
    ['retransmit-rto', 'TcpRetransSegs'],
    ['listen-overflow', 'TcpExtListenOverflows'],
  ])('top --json, %s: an audit record after every counts record, %s with nothing missed', async (name, counter) => {
    const lab = await Lab.create('dtau');
    labs.push(lab);
    const run = await DroptraceRun.start(
      ['top', '--json', '--interval', '0.3', '--listen-syn', 'always', '--netns', lab.a.ns, '--netns', lab.b.ns],
      15_000,
    );
    runs.push(run);
    const facts = await SCENARIOS[name](lab);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await run.stop()).toBe(0);
    const records = run.records();
    const rows = records.filter((r): r is AuditRecord => r.type === 'audit' && r.netns === facts.netns && r.counter === counter);
    // one per interval once the counter moved, and the last reading at the stop
    expect(rows.length, JSON.stringify(records.slice(-6))).toBeGreaterThanOrEqual(2);
    const last = rows[rows.length - 1] as AuditRecord;
    expect(last.delta).toBeGreaterThan(0);
    expect(last.untraced, JSON.stringify(last)).toBe(0);
    expect(last.traced).toBeGreaterThanOrEqual(last.delta);
    // each audit record follows a counts record: the readings are taken together
    const firstAudit = records.findIndex((r) => r.type === 'audit');
    expect(records[firstAudit - 1]?.type).toBe('counts');
    sample(`top audit ${name}`, JSON.stringify(last));
  });

  it('top, filtered to miss a reason: the table says what the kernel counted that it did not', async () => {
    const lab = await Lab.create('dtau');
    labs.push(lab);
    const run = await DroptraceRun.start([
      'top',
      '--interval',
      '0.3',
      '--reason',
      'NETFILTER_DROP',
      '--netns',
      lab.a.ns,
      '--netns',
      lab.b.ns,
    ]);
    runs.push(run);
    await SCENARIOS['udp-closed-port'](lab);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await run.stop()).toBe(0);
    expect(run.stdout).toMatch(/^audit: the kernel counted drops droptrace did not see: \S+ UdpNoPorts \+\d+, 0 traced/m);
  });
});
