import { describe, expect, it } from 'vitest';
import { compileTemplate } from '../../src/classify/template.js';

type Ctx = Record<string, string | undefined>;
const getters = { a: (c: Ctx) => c.a, b: (c: Ctx) => c.b, n: (c: Ctx) => c.n };

describe('hint templates', () => {
  const render = compileTemplate<Ctx>('x={a}[ b={b}][ n={n}]!', getters);

  it('fills values, leaves out a group whose value is missing, and prints ? for a bare one', () => {
    expect(render({ a: '1', b: '2', n: '3' })).toBe('x=1 b=2 n=3!');
    expect(render({ a: '1', n: '3' })).toBe('x=1 n=3!');
    expect(render({})).toBe('x=?!');
    expect(compileTemplate<Ctx>('fixed', getters)({})).toBe('fixed');
  });

  it('gives the same string while the values repeat, and a new one as soon as one changes', () => {
    const first = render({ a: 'q', b: String(40 + 2) });
    // equal values made afresh (as String(n) makes them per event): the same hint
    expect(render({ a: 'q', b: String(42) })).toBe(first);
    expect(render({ a: 'q', b: '43' })).toBe('x=q b=43!');
    expect(render({ a: 'q' })).toBe('x=q!');
    expect(render({ a: 'q', b: '42' })).toBe('x=q b=42!');
  });
});
