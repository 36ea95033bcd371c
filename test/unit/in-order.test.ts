import { describe, expect, it } from 'vitest';
import { InOrder, type Pending } from '../../src/in-order.js';

const later = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Evidence that comes when `ready` resolves; `abandoned` says whether the batch went out without it. */
function pending(ready: Promise<void>): Pending & { abandoned: boolean } {
  const p = {
    ready,
    abandoned: false,
    abandon: () => {
      p.abandoned = true;
    },
  };
  return p;
}
const never = () => pending(new Promise<void>(() => {}));

describe('InOrder', () => {
  it('releases at once when nothing waits, and in arrival order when something does', async () => {
    const out: string[] = [];
    const q = new InOrder();
    q.push(null, 1, () => out.push('a'));
    expect(out).toEqual(['a']);
    const b = pending(later(30));
    q.push(b, 1, () => out.push('b')); // waits for its rule
    q.push(null, 1, () => out.push('c')); // nothing to wait for, but after b
    q.push(pending(later(5)), 1, () => out.push('d'));
    expect(out).toEqual(['a']);
    expect(q.idle).toBe(false);
    await q.drained();
    expect(out).toEqual(['a', 'b', 'c', 'd']);
    expect(q.idle).toBe(true);
    expect(b.abandoned).toBe(false);
  });

  it('past its bound a batch releases what is held before it without its evidence, keeping the order', async () => {
    const out: string[] = [];
    const q = new InOrder(10);
    const held = [never(), never()];
    q.push(held[0] as Pending, 4, () => out.push('held 1'));
    q.push(held[1] as Pending, 4, () => out.push('held 2'));
    await later(5);
    expect(out).toEqual([]); // 8 held, within the bound: they wait for their rule
    const over = never();
    q.push(over, 5, () => out.push('over')); // 13 > 10: nothing waits any longer
    await q.drained();
    expect(out).toEqual(['held 1', 'held 2', 'over']);
    // what would fill them in later is told not to: they went out as they were
    expect([...held, over].map((p) => p.abandoned)).toEqual([true, true, true]);
    // a new bound starts: the next batch waits for its own evidence again
    let release: () => void = () => {};
    const next = pending(
      new Promise<void>((r) => {
        release = r;
      }),
    );
    q.push(next, 1, () => out.push('next'));
    await later(5);
    expect(out).toEqual(['held 1', 'held 2', 'over']);
    release();
    await q.drained();
    expect(out).toEqual(['held 1', 'held 2', 'over', 'next']);
    expect(next.abandoned).toBe(false);
  });

  it('a bounded drain releases what still waits after its budget, abandoned', async () => {
    const out: string[] = [];
    const q = new InOrder();
    const slow = never();
    q.push(slow, 1, () => out.push('slow'));
    await q.drained(20);
    expect(out).toEqual(['slow']);
    expect(slow.abandoned).toBe(true);
  });
});
