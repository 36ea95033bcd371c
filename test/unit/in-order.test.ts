import { describe, expect, it } from 'vitest';
import { InOrder } from '../../src/in-order.js';

const later = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('InOrder', () => {
  it('releases at once when nothing waits, and in arrival order when something does', async () => {
    const out: string[] = [];
    const q = new InOrder();
    q.push(null, 1, () => out.push('a'));
    expect(out).toEqual(['a']);
    q.push(later(30), 1, () => out.push('b')); // waits for its rule
    q.push(null, 1, () => out.push('c')); // nothing to wait for, but after b
    q.push(later(5), 1, () => out.push('d'));
    expect(out).toEqual(['a']);
    expect(q.idle).toBe(false);
    await q.drained();
    expect(out).toEqual(['a', 'b', 'c', 'd']);
    expect(q.idle).toBe(true);
  });

  it('past its bound a batch stops waiting for its own evidence, keeping the order', async () => {
    const out: string[] = [];
    const q = new InOrder(10);
    let release: () => void = () => {};
    const slow = new Promise<void>((r) => {
      release = r;
    });
    q.push(later(10), 8, () => out.push('held'));
    q.push(slow, 5, () => out.push('over')); // 13 > 10: not held for `slow`
    await q.drained();
    expect(out).toEqual(['held', 'over']);
    release();
  });
});
