/**
 * The kernel's filter sets are bounded maps: a set that fits is written whole (the namespace named
 * last is traced like the first), one that does not is refused with a code, never cut.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { TraceEvent } from '../../src/events.js';
import { loadAddon } from '../../src/native/addon.js';
import { Session } from '../../src/session.js';
import { SKIP_KERNEL } from '../helpers/kernel-env.js';
import { Lab } from './lab/netns.js';
import { SCENARIOS } from './lab/scenarios.js';

let lab: Lab | undefined;
let session: Session | undefined;

afterEach(async () => {
  session?.stop();
  session = undefined;
  await lab?.destroy();
  lab = undefined;
});

/** `n` inode numbers no namespace has (nsfs inodes are far above these). */
const others = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe.skipIf(SKIP_KERNEL)('filter sets at and over their size', () => {
  it('the capacity is the documented one', () => {
    const c = loadAddon().layout.constants;
    expect([c.DT_FILTER_NETNS_MAX, c.DT_FILTER_CGROUP_MAX, c.DT_FILTER_ADDR_MAX]).toEqual([16384, 16384, 16384]);
  });

  it('a full set still traces the namespace named last', async () => {
    lab = await Lab.create('dthx-set');
    const max = loadAddon().layout.constants.DT_FILTER_NETNS_MAX;
    session = Session.open({ filter: { netns: [...others(max - 1), lab.b.inode] } });
    const events: TraceEvent[] = [];
    session.start({ events: (batch) => events.push(...batch), lost() {} });
    const deadline = Date.now() + 10_000;
    while (!events.some((e) => e.type === 'drop' && e.netns === lab?.b.inode) && Date.now() < deadline) {
      await SCENARIOS['udp-closed-port'](lab);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(events.filter((e) => e.type === 'drop' && e.netns === lab?.b.inode).length).toBeGreaterThan(0);
  });

  it.each([
    ['netns', { netns: others(16385) }],
    ['cgroups', { cgroups: others(16385).map(BigInt) }],
    ['addresses', { addresses: others(16385).map((i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`) }],
  ])('one entry over (%s) is refused at start with ERR_DROPTRACE_FILTER_FULL', (_what, filter) => {
    expect(() => {
      session = Session.open({ filter });
    }).toThrow(expect.objectContaining({ code: 'ERR_DROPTRACE_FILTER_FULL' }));
  });

  it('the addon itself refuses a set over its map (no silent cut when user space does not check)', () => {
    const addon = loadAddon();
    const tracer = new addon.Tracer({ attach: 'tp_btf' });
    try {
      const c = addon.layout.constants;
      const spec = { flags: c.DT_FILTER_NETNS, emit: 1, l4proto: 0, port: 0, reasons: [], netns: others(16385), cgroups: [], addrs: [] };
      expect(() => tracer.setFilter(spec)).toThrow(
        expect.objectContaining({ code: 'ERR_DROPTRACE_LIBBPF', op: 'write filter_netns', errno: 7 }),
      );
      // and a set that fits after one that did not is written whole
      expect(() => tracer.setFilter({ ...spec, netns: others(16384) })).not.toThrow();
    } finally {
      tracer.stop();
    }
  });
});
