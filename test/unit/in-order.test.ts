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

  it('past its bound a batch releases what is held before it without its evidence, keeping the order', async () => {
    const out: string[] = [];
    const q = new InOrder(10);
    const never = new Promise<void>(() => {});
    q.push(never, 4, () => out.push('held 1'));
    q.push(never, 4, () => out.push('held 2'));
    await later(5);
    expect(out).toEqual([]); // 8 held, within the bound: they wait for their rule
    q.push(never, 5, () => out.push('over')); // 13 > 10: nothing waits any longer
    await q.drained();
    expect(out).toEqual(['held 1', 'held 2', 'over']);
    // a new bound starts: the next batch waits for its own evidence again
    let release: () => void = () => {};
    q.push(
      new Promise<void>((r) => {
        release = r;
      }),
      1,
      () => out.push('next'),
    );
    await later(5);
    expect(out).toEqual(['held 1', 'held 2', 'over']);
    release();
    await q.drained();
    expect(out).toEqual(['held 1', 'held 2', 'over', 'next']);
  });
});
