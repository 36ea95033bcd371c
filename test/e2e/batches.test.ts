/**
 * The addon copies every batch of records into one Buffer it reuses, and the pump fills batches it
 * has used before: a record must reach JS once, whole, and never from a batch already overwritten.
 * A namespace sends datagrams of every size from 1 to SIZES bytes, ROUNDS times each, to a closed
 * port; each size is a length no other drop has. The lengths droptrace delivers are those and no
 * other, none more often than it was sent, and delivered + lost is what the kernel matched.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DropRecord } from '../../src/events.js';
import { trace } from '../../src/index.js';
import type { Trace } from '../../src/trace.js';
import { SKIP_KERNEL } from '../helpers/kernel-env.js';
import { Lab, PYTHON } from './lab/netns.js';

const SIZES = 1400;
const ROUNDS = 20;
// the UDP header: at the UDP socket look-up the IP header is pulled, the drop's len is the datagram's
const HEADERS = 8;

let lab: Lab | undefined;
let session: Trace | undefined;

afterEach(async () => {
  session?.stop();
  session = undefined;
  await lab?.destroy();
  lab = undefined;
});

describe.skipIf(SKIP_KERNEL)('batches handed to JavaScript', () => {
  it('deliver each record once and whole across hundreds of reused batches', async () => {
    lab = await Lab.create('dtbat');
    const space = await lab.addNamespace('n');
    session = await trace({ netns: [space.inode] });
    const script = `
import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for r in range(${ROUNDS}):
    for n in range(1, ${SIZES + 1}):
        u.sendto(b"x" * n, ("127.0.0.1", 9))
`;
    const sent = lab.exec('n', PYTHON, ['-c', script], { timeoutMs: 120_000 });
    const byLen = new Map<number, number>();
    let other = 0;
    const reading = (async () => {
      for await (const r of session as Trace) {
        if (r.type !== 'drop') continue;
        const d = r as DropRecord;
        if (d.reason === 'NO_SOCKET' && d.netns === space.inode) byLen.set(d.len, (byLen.get(d.len) ?? 0) + 1);
        else other++;
      }
    })();
    await sent;
    // the last batches reach JS within the pump's poll interval
    await new Promise((r) => setTimeout(r, 500));
    const stop = session.stop();
    await reading;
    const stats = session.stats();

    const delivered = [...byLen.values()].reduce((a, b) => a + b, 0);
    expect(delivered + other).toBe(stop.events);
    expect(stop.events + stop.lost).toBe(stats.matched - stats.retransmits - stats.connects);
    // most of it arrives (the ring is 4 MB; JS keeps up with a Python sender)
    expect(delivered).toBeGreaterThan(0.9 * SIZES * ROUNDS);
    for (const [len, n] of byLen) {
      expect(len - HEADERS).toBeGreaterThanOrEqual(1);
      expect(len - HEADERS).toBeLessThanOrEqual(SIZES);
      expect(n).toBeLessThanOrEqual(ROUNDS);
    }
    expect(byLen.size).toBe(SIZES);
  });
});
