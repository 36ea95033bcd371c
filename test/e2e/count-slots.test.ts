/**
 * The in-kernel drop counts stay exact with more kinds of drop than a CPU has count slots: the
 * kfree_skb program counts a key in a per-CPU slot while the key holds it and moves the count into
 * the counter map when another key takes the slot over. Twenty namespaces each drop their own
 * key at once, so keys keep taking slots from each other on every CPU; the kernel's UdpNoPorts
 * of each namespace is the judge: read while the storm runs, a count is never above it, and once
 * the storm is over the counts equal it exactly.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { trace } from '../../src/index.js';
import type { Trace } from '../../src/trace.js';
import { SKIP_KERNEL } from '../helpers/kernel-env.js';
import { nstat } from './lab/counters.js';
import { Lab, PYTHON } from './lab/netns.js';

const NAMESPACES = 20; // more than the 16 slots a CPU has (DT_COUNT_SLOTS)
const DATAGRAMS = 20_000;

let lab: Lab | undefined;
let session: Trace | undefined;

afterEach(async () => {
  session?.stop();
  session = undefined;
  await lab?.destroy();
  lab = undefined;
});

/** NO_SOCKET drops at __udp4_lib_rcv counted for a namespace (0 when it has none yet). */
function udpNoSocket(t: Trace, inode: number): number {
  return t
    .counts()
    .filter((c) => c.netns === inode && c.reason === 'NO_SOCKET' && /^__udp4_lib_rcv\+/.test(c.location))
    .reduce((n, c) => n + c.count, 0);
}

describe.skipIf(SKIP_KERNEL)('in-kernel drop counts with more keys than count slots', () => {
  it('are never high while the slots change hands, and exact once the storm is over', async () => {
    lab = await Lab.create('dtcs');
    const keys = Array.from({ length: NAMESPACES }, (_, i) => `n${i}`);
    const spaces = [];
    for (const key of keys) spaces.push(await lab.addNamespace(key));
    session = await trace({ netns: spaces.map((s) => s.inode) });

    const script = `
import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(${DATAGRAMS}):
    u.sendto(b"x", ("127.0.0.1", 9))
`;
    const live = lab;
    const storms = Promise.all(keys.map((k) => live.exec(k, PYTHON, ['-c', script], { timeoutMs: 60_000 })));
    let done = false;
    void storms.finally(() => {
      done = true;
    });

    // while it runs: each reading of droptrace's counts is at most what the kernel counted after it
    let readings = 0;
    while (!done) {
      const i = readings % NAMESPACES;
      const counted = udpNoSocket(session, spaces[i].inode);
      const kernel = (await nstat(lab, keys[i])).UdpNoPorts ?? 0;
      expect(counted).toBeLessThanOrEqual(kernel);
      readings++;
    }
    await storms;
    expect(readings).toBeGreaterThan(0);

    // after it: exact, while the programs are still attached (the slots still hold counts), and after stop
    for (const [i, key] of keys.entries()) {
      expect(udpNoSocket(session, spaces[i].inode)).toBe((await nstat(lab, key)).UdpNoPorts);
    }
    session.stop();
    for (const [i, key] of keys.entries()) {
      expect(udpNoSocket(session, spaces[i].inode)).toBe((await nstat(lab, key)).UdpNoPorts);
    }
    const total = spaces.reduce((n, s) => n + udpNoSocket(session as Trace, s.inode), 0);
    expect(total).toBe(NAMESPACES * DATAGRAMS);
  });
});
