/**
 * `top` counts retransmits by kind in the kernel: the count for a namespace equals the retransmit
 * events a stream of the same namespace received at the same time (with none lost).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CountsRecord } from '../../src/events.js';
import { DroptraceRun } from '../helpers/droptrace-cli.js';
import { SKIP_KERNEL } from '../helpers/kernel-env.js';
import { Lab } from './lab/netns.js';
import { type RetransmitFacts, SCENARIOS } from './lab/scenarios.js';

let lab: Lab | undefined;
const runs: DroptraceRun[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) r.kill();
  await lab?.destroy();
  lab = undefined;
});

describe.skipIf(SKIP_KERNEL)('top: retransmits by kind', () => {
  it('counts each kind exactly, as the stream saw them', async () => {
    lab = await Lab.create('dttm-rtx');
    const ns = lab.a.ns;
    const top = await DroptraceRun.start(['top', '--json', '--netns', ns, '--interval', '0.5', '--duration', '9']);
    const stream = await DroptraceRun.start(['--json', '--netns', ns, '--duration', '9']);
    runs.push(top, stream);
    const facts = (await SCENARIOS['retransmit-rto'](lab)) as RetransmitFacts;
    expect(await top.exited).toBe(0);
    expect(await stream.exited).toBe(0);
    const seen = stream.retransmits();
    expect(seen.length).toBeGreaterThanOrEqual(facts.minEvents);
    const stop = stream.records().find((r) => r.type === 'stop');
    expect(stop).toMatchObject({ lost: 0 });
    const last = top
      .records()
      .filter((r): r is CountsRecord => r.type === 'counts')
      .at(-1);
    const byKind = (kind: string) =>
      last?.retransmit_rows.filter((r) => r.kind === kind && r.netns === facts.netns).reduce((n, r) => n + r.count, 0);
    for (const kind of new Set(seen.map((r) => r.kind))) expect(byKind(kind)).toBe(seen.filter((r) => r.kind === kind).length);
    expect(last?.retransmit_rows.every((r) => r.where === ns)).toBe(true);
    expect(last?.retransmits).toBe(seen.length);
  });
});
