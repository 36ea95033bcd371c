import { describe, expect, it } from 'vitest';
import { CStringField, cString, formatIPv4, formatIPv6, TCP_FLAGS, WallClock } from '../../src/decode/format.js';

const v6 = (hex: string) => Buffer.from(hex.replace(/:/g, ''), 'hex');

describe('formatIPv6 (RFC 5952)', () => {
  it.each([
    ['0000:0000:0000:0000:0000:0000:0000:0001', '::1'],
    ['0000:0000:0000:0000:0000:0000:0000:0000', '::'],
    ['fd00:0000:0000:0000:0000:0000:0000:0002', 'fd00::2'],
    ['2001:0db8:0000:0001:0000:0000:0000:0001', '2001:db8:0:1::1'],
    ['2001:0db8:0000:0000:0001:0000:0000:0001', '2001:db8::1:0:0:1'],
    ['2001:0db8:0001:0002:0003:0004:0005:0006', '2001:db8:1:2:3:4:5:6'],
    ['fe80:0000:0000:0000:7c03:8aff:fe1c:396e', 'fe80::7c03:8aff:fe1c:396e'],
    ['0000:0000:0000:0000:0000:ffff:0a00:0001', '::ffff:10.0.0.1'],
    ['2001:0db8:0000:0001:0001:0001:0001:0001', '2001:db8:0:1:1:1:1:1'],
  ])('%s → %s', (hex, text) => {
    expect(formatIPv6(v6(hex), 0)).toBe(text);
  });
});

describe('small formatters', () => {
  it('formats IPv4 at an offset', () => {
    expect(formatIPv4(Buffer.from([0, 10, 200, 1, 2]), 1)).toBe('10.200.1.2');
  });

  it.each([
    [0x02, 'SYN'],
    [0x12, 'SYN|ACK'],
    [0x18, 'PSH|ACK'],
    [0x04, 'RST'],
    [0x00, ''],
  ])('TCP flags %i → %s', (byte, text) => {
    expect(TCP_FLAGS[byte]).toBe(text);
  });

  it('reads NUL-terminated names of fixed width', () => {
    expect(cString(Buffer.from('eth0\0junk'), 0, 9)).toBe('eth0');
    expect(cString(Buffer.from('sixteen-bytes-ok'), 0, 16)).toBe('sixteen-bytes-ok');
  });
});

describe('WallClock', () => {
  it('adds the realtime offset to monotonic nanoseconds, with nanosecond precision', () => {
    // offset 1_700_000_000.5 s; monotonic 12.75 s → 1_700_000_013.25 s
    const clock = new WallClock(1_700_000_000, 500_000_000);
    const mono = 12_750_000_123;
    expect(clock.format(Math.floor(mono / 2 ** 32), mono % 2 ** 32)).toBe('2023-11-14T22:13:33.250000123Z');
  });

  it('turns a time it formatted back into monotonic milliseconds', () => {
    const clock = new WallClock(1_700_000_000, 500_000_000);
    const mono = 12_750_000_123;
    expect(clock.monotonicMs(clock.format(Math.floor(mono / 2 ** 32), mono % 2 ** 32))).toBe(12_750);
  });

  it('carries nanoseconds over a second boundary', () => {
    const clock = new WallClock(0, 999_999_999);
    expect(clock.format(0, 2)).toBe('1970-01-01T00:00:01.000000001Z');
  });

  it('is right event after event, across seconds and with now() between', () => {
    const clock = new WallClock(1_700_000_000, 0);
    const reference = (ns: number) => {
      const sec = Math.floor(ns / 1e9);
      return `${new Date((1_700_000_000 + sec) * 1000).toISOString().slice(0, 19)}.${String(ns - sec * 1e9).padStart(9, '0')}Z`;
    };
    for (const ns of [0, 7, 999_999_999, 1_000_000_000, 1_000_000_010, 5_123_456_789, 5_123_456_790, 2_000_000_000]) {
      expect(clock.format(Math.floor(ns / 2 ** 32), ns % 2 ** 32)).toBe(reference(ns));
      // now() shares the per-second cache: a format after it is still its own second's
      clock.now();
    }
  });
});

describe('CStringField', () => {
  const field = (bytes: number[]) => {
    const b = Buffer.alloc(20, 0xee); // bytes after the field are not the name
    b.fill(0, 2, 18);
    Buffer.from(bytes).copy(b, 2);
    return b;
  };
  const name = (s: string) => [...Buffer.from(s, 'latin1')];

  it('is cString of the field for every sequence of names, repeated or not', () => {
    const f = new CStringField(16);
    const seq = [
      name('eth0'),
      name('eth0'),
      name('eth01'),
      name('eth0'),
      name('eth'),
      [],
      name('veth0123456789ab'), // 16 bytes: no NUL inside the field
      name('veth0123456789ab'),
      name('veth0123456789ac'),
      [0xc3, 0xa9, 0x74, 0x68],
      [0xff, 0x41],
      name('eth0'),
    ];
    for (const bytes of seq) {
      const b = field(bytes);
      expect(f.of(b, 2)).toBe(cString(b, 2, 16));
    }
  });
});
