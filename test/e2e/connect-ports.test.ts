/**
 * Source ports exhausted: connect() fails with EADDRNOTAVAIL, no packet exists and no counter moves.
 * A namespace with four local ports and ten connects to one destination: droptrace reports each
 * failure with the process, its namespace, the destination and the namespace's port range.
 */
import { randomInt } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConnectErrorRecord } from '../../src/events.js';
import { PortRanges } from '../../src/readers/port-range.js';
import { DroptraceRun } from '../helpers/droptrace-cli.js';
import { SKIP_KERNEL } from '../helpers/kernel-env.js';
import { sample } from '../helpers/samples.js';
import { sysctls } from './lab/counters.js';
import { Lab } from './lab/netns.js';
import { sleep, trafficBg } from './lab/traffic.js';

const labs: Lab[] = [];
const runs: DroptraceRun[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) r.kill();
  for (const l of labs.splice(0)) await l.destroy();
});

describe.skipIf(SKIP_KERNEL)('source-port exhaustion', () => {
  it('names the process, the destination and the port range of every connect() that found no free port', async () => {
    const lab = await Lab.create('dtau');
    labs.push(lab);
    const restore = await sysctls(lab, 'a', { 'net.ipv4.ip_local_port_range': '40000 40003' });
    try {
      const run = await DroptraceRun.start(['--json', '--netns', lab.a.ns, '--netns', lab.b.ns]);
      runs.push(run);
      const port = randomInt(20000, 30000);
      const server = await trafficBg(lab, 'b', ['tcp-listen', '--bind', lab.b.ipv4, '--port', String(port), '--accept']);
      const conn = await trafficBg(lab, 'a', [
        'tcp-connect',
        '--dst',
        lab.b.ipv4,
        '--dport',
        String(port),
        '--count',
        '10',
        '--timeout',
        '1',
        '--hold',
      ]);
      const pid = conn.child.pid;
      const r = await conn.finish();
      await server.finish();
      await sleep(200);
      expect(await run.stop()).toBe(0);
      const failed = (r.outcomes as string[]).filter((o) => o === 'EADDRNOTAVAIL').length;
      expect(failed).toBe(6);
      const events = run.records().filter((e): e is ConnectErrorRecord => e.type === 'connect_error');
      expect(events.length).toBe(failed);
      // the stop record counts them apart, and they close the accounting
      const stop = run.records().find((r) => r.type === 'stop');
      expect(stop).toMatchObject({ connects: failed });
      if (stop?.type === 'stop') expect(stop.events + stop.suppressed + stop.lost).toBe(stop.drops + stop.retransmits + stop.connects);
      for (const e of events) {
        expect(e).toMatchObject({
          errno: 'EADDRNOTAVAIL',
          pid,
          comm: 'python3',
          netns: lab.a.inode,
          family: 'ipv4',
          daddr: lab.b.ipv4,
          dport: port,
          port_range: [40000, 40003],
        });
        expect(e.container?.name).toBe(lab.a.ns);
        expect(e.hint).toMatch(
          new RegExp(
            `^python3 \\(pid ${pid}\\) in ${lab.a.ns} found no free local port to connect to ${lab.b.ipv4.replace(/\./g, '\\.')}:${port} \\(ip_local_port_range 40000-40003: 4 ports\\)`,
          ),
        );
      }
      sample('connect EADDRNOTAVAIL', JSON.stringify(events[0]));
      // the caller may be gone when its failure is handled: the namespace's name is the way in then
      expect(new PortRanges().of(lab.a.inode, ['/proc/999999999/ns/net', `/run/netns/${lab.a.ns}`])).toEqual([40000, 40003]);
      expect(new PortRanges().of(lab.a.inode, ['/proc/999999999/ns/net'])).toBeNull();
    } finally {
      await restore();
    }
  });
});
