/**
 * TCP losses the kernel counts that droptrace must show and count the same: PAWS rejects of a stale
 * timestamp (shown by default, not hidden as benign) and the segments a retransmit carries (one skb
 * can be many segments; TcpRetransSegs counts segments).
 */
import { randomInt } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { DroptraceRun } from '../helpers/droptrace-cli.js';
import { SKIP_KERNEL } from '../helpers/kernel-env.js';
import { sample } from '../helpers/samples.js';
import { delta, nstat } from './lab/counters.js';
import { Lab } from './lab/netns.js';
import { sleep, traffic, trafficBg } from './lab/traffic.js';

const labs: Lab[] = [];
const runs: DroptraceRun[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) r.kill();
  for (const l of labs.splice(0)) await l.destroy();
});

describe.skipIf(SKIP_KERNEL)('TCP counters and what droptrace shows', () => {
  it('a PAWS reject of a stale timestamp is shown by default, one event per TcpExtPAWSEstab', async () => {
    const lab = await Lab.create('dtau');
    labs.push(lab);
    const port = randomInt(20000, 40000);
    // the default view: benign drops hidden
    const run = await DroptraceRun.start(['--json', '--netns', lab.b.ns]);
    runs.push(run);
    const server = await trafficBg(lab, 'b', ['tcp-listen', '--bind', lab.b.ipv4, '--port', String(port), '--accept']);
    const before = await nstat(lab, 'b');
    const r = await traffic(lab, 'a', ['tcp-paws', '--dst', lab.b.ipv4, '--dport', String(port)]);
    await sleep(200);
    const after = await nstat(lab, 'b');
    await server.finish();
    expect(await run.stop()).toBe(0);
    const paws = run.drops().filter((d) => d.reason === 'TCP_RFC7323_PAWS' && d.netns === lab.b.inode && d.sport === r.sport);
    const counted = delta(before, after, ['TcpExtPAWSEstab']).TcpExtPAWSEstab;
    expect(counted).toBeGreaterThan(0);
    expect(paws.length).toBe(counted);
    for (const d of paws) {
      expect(d.benign).toBe(false);
      expect(d.hint).toMatch(new RegExp(`^PAWS: segment to :${port} rejected for an old timestamp`));
    }
    sample('paws', `TcpExtPAWSEstab +${counted}, events ${paws.length}: ${paws[0].layer}/${paws[0].component}: ${paws[0].hint}`);
  });

  it('retransmits carry their segment count, and the counts add up to TcpRetransSegs', async () => {
    const lab = await Lab.create('dtau');
    labs.push(lab);
    const port = randomInt(20000, 40000);
    const run = await DroptraceRun.start(['--json', '--all', '--netns', lab.a.ns]);
    runs.push(run);
    const server = await trafficBg(lab, 'b', ['tcp-listen', '--bind', lab.b.ipv4, '--port', String(port), '--accept']);
    const stream = await trafficBg(lab, 'a', [
      'tcp-stream',
      '--dst',
      lab.b.ipv4,
      '--dport',
      String(port),
      '--writes',
      '60',
      '--chunk',
      '16000',
      '--interval-ms',
      '5',
      '--linger',
      '2',
    ]);
    const table = `dtau${lab.id}`;
    await lab.exec('b', 'nft', ['-f', '-'], {
      input: `table inet ${table} {\n chain input {\n  type filter hook input priority 0;\n  tcp dport ${port} drop\n }\n}\n`,
    });
    const before = await nstat(lab, 'a');
    const done = stream.finish();
    // everything a sends is lost for a while; once the path is back, recovery in slow start
    // retransmits skbs of several segments each
    await sleep(500);
    await lab.exec('b', 'nft', ['delete', 'table', 'inet', table]);
    const report = await done;
    const after = await nstat(lab, 'a');
    await server.finish();
    expect(await run.stop()).toBe(0);
    const rtx = run.retransmits().filter((e) => e.netns === lab.a.inode && e.sport === report.sport);
    const segs = rtx.reduce((n, e) => n + e.segments, 0);
    const counted = delta(before, after, ['TcpRetransSegs']).TcpRetransSegs;
    expect(rtx.length).toBeGreaterThan(0);
    expect(Math.max(...rtx.map((e) => e.segments))).toBeGreaterThan(1);
    expect(segs).toBe(counted);
    sample('retransmit segments', `TcpRetransSegs +${counted}; ${rtx.length} retransmit events carrying ${segs} segments`);
  });
});
