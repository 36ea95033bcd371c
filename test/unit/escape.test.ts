/** Untrusted text on its way to a terminal: escaped in text, exact (and inert) in NDJSON. */
import { describe, expect, it } from 'vitest';
import { cString } from '../../src/decode/format.js';
import type { DropRecord } from '../../src/events.js';
import { escapeJsonText, escapeTerminal, excerpt } from '../../src/output/escape.js';
import { ndjsonBytes } from '../../src/output/ndjson.js';
import { summaryText } from '../../src/output/summary.js';
import { fittedLine, textLine } from '../../src/output/text.js';

/** Anything a terminal would act on: C0, DEL, C1, bidi controls, line/paragraph separators. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the test
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

describe('escapeTerminal', () => {
  it.each([
    ['eth0', 'eth0'],
    ['a\x1b[31mz', 'a\\x1b[31mz'],
    ['a\nb\tc\rd', 'a\\nb\\tc\\rd'],
    ['\x00\x07\x7f', '\\x00\\x07\\x7f'],
    ['c1\u009b31m', 'c1\\x9b31m'],
    ['h\u202ei', 'h\\u202ei'],
    ['\u2066\u2069\u200e\u061c\u2028', '\\u2066\\u2069\\u200e\\u061c\\u2028'],
    ['naïve-日本', 'naïve-日本'],
  ])('%j → %j', (raw, shown) => {
    expect(escapeTerminal(raw)).toBe(shown);
    expect(escapeTerminal(raw)).not.toMatch(CONTROL);
  });

  it('is stateless across calls (a global regex keeps lastIndex)', () => {
    for (let i = 0; i < 3; i++) expect(escapeTerminal('x\x1by')).toBe('x\\x1by');
  });
});

describe('excerpt', () => {
  it('keeps short values, escaped', () => {
    expect(excerpt('rel\x1b[2J')).toBe('rel\\x1b[2J');
  });

  it('cuts long values and says how long they were', () => {
    const out = excerpt('x'.repeat(100_000));
    expect(out.length).toBeLessThan(100);
    expect(out).toContain('100000 characters');
  });

  it('never splits a surrogate pair', () => {
    const out = excerpt(`${'a'.repeat(63)}😀${'b'.repeat(10)}`);
    expect(out.startsWith(`${'a'.repeat(63)}…`)).toBe(true);
  });
});

describe('cString: interface names are the kernel bytes', () => {
  const name = (bytes: number[]) => cString(Buffer.from([...bytes, 0, 0x41]), 0, 16);
  it('decodes valid UTF-8 as UTF-8 (not Latin-1)', () => {
    expect(name([0x68, 0xe2, 0x80, 0xae, 0x69])).toBe('h\u202ei');
    expect(name([...Buffer.from('añb')])).toBe('añb');
  });
  it('writes bytes outside valid UTF-8 as \\xNN and keeps the valid sequences', () => {
    expect(name([0x61, 0xff, 0x62])).toBe('a\\xffb');
    expect(name([0xc3, 0xb1, 0xe2, 0x80])).toBe('ñ\\xe2\\x80');
  });
  it('keeps control bytes (JSON escapes them, text escapes them at the edge)', () => {
    expect(name([0x61, 0x1b, 0x5b, 0x33, 0x31, 0x6d, 0x7a])).toBe('a\x1b[31mz');
  });
});

const drop: DropRecord = {
  type: 'drop',
  time: '2026-01-01T00:00:00.000000000Z',
  host: 'node-1',
  reason: 'NETFILTER_DROP',
  reason_code: 3,
  reason_source: 'kernel',
  location: 'nft_do_chain+0x4a0',
  direction: 'rx',
  tcp_flags: null,
  len: 40,
  ifindex: 2,
  ifname: 'a\x1b[31mz',
  mtu: 1500,
  netns: 4026532000,
  cgroup_id: null,
  peer: { ifindex: 3, ifname: 'p\u009b2J', mtu: 1500, netns: 4026532001 },
  sk_state: null,
  container: { id: 'x', name: 'evil\x1b]0;title\x07\u202e', runtime: 'netns', image: null, pid: null },
  container_via: 'netns',
  layer: 'netfilter',
  component: 'iptables',
  hint: 'dropped by -A INPUT -m comment --comment "c\x1b[2J" -j DROP',
  benign: false,
  detected_by: 'kfree_skb',
  evidence: { rule: '-A INPUT -m comment --comment "c\x1b[2J" -j DROP' },
  proto: 'udp',
  family: 'ipv4',
  saddr: '10.0.0.1',
  sport: 1,
  daddr: '10.0.0.2',
  dport: 2,
};

describe('output edges', () => {
  it('the line fitted to a terminal escapes them too, in every width', () => {
    for (const width of [60, 80, 120, 220]) {
      const line = fittedLine(drop, width, false);
      expect(line).not.toMatch(CONTROL);
      expect(line.length).toBeLessThanOrEqual(width);
    }
  });

  it('the human line escapes names, rule text and hint', () => {
    for (const color of [false, true]) {
      const line = textLine(drop, { color });
      // colour codes are droptrace's own; nothing else may reach the terminal
      // biome-ignore lint/suspicious/noControlCharactersInRegex: removing droptrace's own colour codes
      expect(line.replace(/\x1b\[(?:0|1|2|22|31|33|36|39)m/g, '')).not.toMatch(CONTROL);
      expect(line).toContain('a\\x1b[31mz>p\\x9b2J');
      expect(line).toContain('evil\\x1b]0;title\\x07\\u202e');
      expect(line).toContain('--comment "c\\x1b[2J"');
    }
  });

  it('the exit summary escapes container names', () => {
    const text = summaryText(
      {
        type: 'stop',
        time: drop.time,
        host: 'node-1',
        events: 1,
        drops: 1,
        retransmits: 0,
        connects: 0,
        lost: 0,
        suppressed: 0,
        own_drops: 0,
        by_reason: {},
        by_container: { 'e\x1b[2J': 1 },
      },
      {
        seen: 1,
        matched: 1,
        sent: 1,
        lost: 0,
        delivered: 1,
        counterFull: 0,
        retransmits: 0,
        connects: 0,
        synUnjudged: 0,
        suppressed: 0,
        own: 0,
      },
    );
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding ESC is the test
    expect(text).not.toMatch(/\x1b/);
    expect(text).toContain('e\\x1b[2J');
  });

  it('NDJSON holds the exact strings and no raw control character', () => {
    const line = ndjsonBytes([drop]).toString('utf8');
    expect(line.slice(0, -1)).not.toMatch(CONTROL);
    expect(JSON.parse(line)).toEqual(drop);
    expect(escapeJsonText('"\u202e"')).toBe('"\\u202e"');
  });
});
