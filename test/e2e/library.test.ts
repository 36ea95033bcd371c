/** The library API on the real kernel, and the environment errors a user meets first. */
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { type TraceRecord, trace } from '../../src/index.js';
import type { Trace } from '../../src/trace.js';
import { BIN } from '../helpers/droptrace-cli.js';
import { SKIP_KERNEL } from '../helpers/kernel-env.js';
import { assertValidRecord } from '../helpers/schema.js';
import { Lab, PYTHON } from './lab/netns.js';
import { type DropFacts, SCENARIOS } from './lab/scenarios.js';

let lab: Lab | undefined;
let idle: Lab | undefined;
let session: Trace | undefined;

afterEach(async () => {
  session?.stop();
  session = undefined;
  await lab?.destroy();
  await idle?.destroy();
  lab = idle = undefined;
});

describe.skipIf(SKIP_KERNEL)('trace() as a library', () => {
  it('yields typed, enriched, schema-valid events of the namespaces asked for, by ip netns name', async () => {
    lab = await Lab.create('dtlib');
    session = await trace({ netns: [lab.b.ns] });
    expect(session.start).toMatchObject({ type: 'start', schema_version: 1 });
    const facts = (await SCENARIOS['udp-closed-port'](lab)) as DropFacts;

    const seen: TraceRecord[] = [];
    const deadline = setTimeout(() => session?.stop(), 10_000);
    for await (const event of session) {
      assertValidRecord(event);
      seen.push(event);
      if (seen.filter((e) => e.type === 'drop' && e.reason === 'NO_SOCKET').length >= 3) break;
    }
    clearTimeout(deadline);
    const drop = seen.find((e) => e.type === 'drop' && e.reason === 'NO_SOCKET');
    // the namespace is named as the CLI names it: a plain `ip netns` namespace is a container of runtime `netns`
    expect(drop).toMatchObject({
      netns: lab.b.inode,
      daddr: facts.daddr,
      layer: 'transport',
      component: 'udp',
      container: { name: lab.b.ns, runtime: 'netns' },
      container_via: 'netns',
    });
    expect(drop?.type === 'drop' && drop.hint).toMatch(new RegExp(` in ${lab.b.ns}$`));
    // the namespace, or a veth whose other end is in it (the netns filter matches both)
    const inB = (e: TraceRecord) =>
      e.type === 'lost' || e.type === 'warning' || e.netns === lab?.b.inode || (e.type === 'drop' && e.peer?.netns === lab?.b.inode);
    expect(seen.filter((e) => !inB(e))).toEqual([]);

    const stop = session.stop();
    expect(stop.by_reason.NO_SOCKET).toBeGreaterThanOrEqual(3);
    expect(session.counts().some((c) => c.reason === 'NO_SOCKET' && c.netns === lab?.b.inode && /^__udp4_lib_rcv\+/.test(c.location))).toBe(
      true,
    );
  });

  it('changes its filter without reloading', async () => {
    lab = await Lab.create('dtlib');
    // an idle namespace first (not lab.a: the netns filter also matches b's veth, whose peer is in a)
    idle = await Lab.create('dtlib');
    session = await trace({ netns: [idle.a.ns] });
    const first = (await SCENARIOS['udp-closed-port'](lab)) as DropFacts; // drops in b: filtered out
    session.setFilter({ netns: [lab.b.inode] });
    const second = (await SCENARIOS['udp-closed-port'](lab)) as DropFacts;
    await new Promise((r) => setTimeout(r, 300));
    const stop = session.stop();
    const seen: TraceRecord[] = [];
    for await (const r of session) seen.push(r);
    // only the second run's datagrams were counted and streamed: the first run's port never appears
    const closedPort = (e: TraceRecord) => e.type === 'drop' && e.reason === 'NO_SOCKET';
    expect(second.sent).toBeGreaterThan(0);
    expect(stop.by_reason.NO_SOCKET).toBe(second.sent);
    expect(seen.filter(closedPort).map((e) => e.type === 'drop' && e.dport)).toEqual(Array(second.sent).fill(second.dports[0]));
    expect(first.dports[0]).not.toBe(second.dports[0]);
  });
});

describe.skipIf(SKIP_KERNEL)('nothing is lost silently', () => {
  it('a burst into a tiny ring: every event is delivered or reported lost, in the stream', async () => {
    lab = await Lab.create('dtlib');
    // 16 KiB holds about 85 events; the burst is 4000 datagrams sent as fast as python can
    session = await trace({ netns: [lab.b.inode], ringBytes: 16384 });
    const burst = `import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); [s.sendto(b"x", ("${lab.b.ipv4}", 9)) for _ in range(4000)]`;
    await lab.exec('a', PYTHON, ['-c', burst]);
    await new Promise((r) => setTimeout(r, 1200)); // the lost counter is read at least once a second
    const stop = session.stop();
    let delivered = 0;
    let reported = 0;
    for await (const r of session) {
      if (r.type === 'lost') reported += r.count;
      else delivered++;
    }
    expect(stop.lost).toBeGreaterThan(0);
    expect(reported).toBe(stop.lost);
    // the kernel's exact count of what matched: each either reached the stream or was reported lost
    expect(delivered + stop.lost).toBe(stop.drops + stop.retransmits + stop.connects);
    expect(stop.by_reason.NO_SOCKET).toBeGreaterThanOrEqual(4000);
  });
});

describe.skipIf(SKIP_KERNEL)('environment errors', () => {
  it('not root: ERR_DROPTRACE_PERMISSION with a hint, exit 77', () => {
    const r = spawnSync(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath, BIN, '--duration', '1'],
      {
        encoding: 'utf8',
      },
    );
    expect(r.stderr).toContain('[ERR_DROPTRACE_PERMISSION]');
    expect(r.stderr).toMatch(/hint: run it as root/);
    expect(r.status).toBe(77);
  });
});
