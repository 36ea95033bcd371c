import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Kallsyms } from '../../src/kernel/kallsyms.js';

const fixture = fileURLToPath(new URL('../fixtures/kallsyms/kallsyms.txt', import.meta.url));
const split = (addr: bigint) => [Number(addr >> 32n), Number(addr & 0xffffffffn)] as const;

describe('Kallsyms', () => {
  const syms = new Kallsyms(fixture);
  it.each([
    [0xffffffff81a0b1c4n, '__udp4_lib_rcv+0xc4'],
    [0xffffffff81a0b100n, '__udp4_lib_rcv+0x0'],
    [0xffffffff81a0c010n, 'udp_queue_rcv_one_skb+0x10'],
    // data symbols are not text: the address stays with the text symbol before it
    [0xffffffff81a0d010n, 'udp_queue_rcv_one_skb+0x1010'],
    [0xffffffffc0a01020n, 'veth_xmit+0x20'],
    [0xffffffff80000000n, '0xffffffff80000000'],
  ])('%s → %s', (addr, name) => {
    expect(syms.symbolize(...split(addr))).toBe(name);
    expect(syms.lookup(addr)).toBe(name);
  });

  it('leaves addresses hexadecimal when kallsyms is unreadable', () => {
    expect(new Kallsyms('/nonexistent/kallsyms').lookup(0xffffffff81000000n)).toBe('0xffffffff81000000');
  });
});
