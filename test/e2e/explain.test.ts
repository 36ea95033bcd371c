/**
 * The seed incident, re-made in namespaces: a web server behind a 30% random iptables drop and an
 * MTU of 100 on its side of the link. `droptrace explain` must name both, with their evidence.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Finding } from '../../src/events.js';
import { DroptraceRun } from '../helpers/droptrace-cli.js';
import { SKIP_KERNEL } from '../helpers/kernel-env.js';
import { Lab } from './lab/netns.js';
import { type DropFacts, mtuDrop, netfilterDrop } from './lab/scenarios.js';

let lab: Lab | undefined;
let run: DroptraceRun | undefined;

afterEach(async () => {
  run?.kill();
  await lab?.destroy();
});

describe.skipIf(SKIP_KERNEL)('droptrace explain', () => {
  it('ranks the seed incident: the iptables rule that drops 30%, and the MTU of 100', async () => {
    lab = await Lab.create('dtexpl');
    run = await DroptraceRun.start(['explain', '--json', '--netns', lab.a.ns, '--netns', lab.b.ns, '--duration', '9']);
    const random = (await netfilterDrop(lab, { probability: 0.3, count: 300 })) as DropFacts;
    const mtu = (await mtuDrop(lab)) as DropFacts;
    expect(await run.exited).toBe(0);
    const findings = run.records().filter((r): r is Finding => r.type === 'finding');

    const nf = findings.find((f) => f.reason === 'NETFILTER_DROP' && f.netns === random.netns);
    expect(nf).toMatchObject({ layer: 'netfilter', component: 'iptables', where: lab.b.ns, benign: false });
    expect(nf?.hint).toContain('--probability 0.3 -j DROP');
    expect(nf?.evidence.rule).toMatch(/^-A INPUT .*--dport \d+ -m statistic --mode random --probability 0.3 -j DROP$/);
    expect(nf?.count).toBeGreaterThanOrEqual(random.minEvents);

    const link = findings.find((f) => f.layer === 'link' && f.netns === mtu.netns);
    expect(link).toMatchObject({ component: 'veth', reason: 'NOT_SPECIFIED', benign: false });
    expect(link?.hint).toMatch(/exceeds MTU 100 of /);
    expect(link?.evidence).toMatchObject({ peer_mtu: 100 });

    // ranked by count, most first, the ones that matter before the benign
    const ranks = findings.map((f) => f.rank);
    expect(ranks).toEqual(ranks.map((_, i) => i + 1));
    const real = findings.filter((f) => !f.benign);
    expect(real.map((f) => f.count)).toEqual([...real.map((f) => f.count)].sort((a, b) => b - a));
  });
});
