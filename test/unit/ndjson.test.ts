/**
 * The NDJSON writer builds drop and retransmit lines from cached fragments: they must be exactly
 * JSON.stringify's, key order included, for every record the decoder and the enricher make.
 */
import { describe, expect, it } from 'vitest';
import { Enricher } from '../../src/enrich.js';
import type { Container, DropRecord, DroptraceRecord, RetransmitRecord, TraceEvent } from '../../src/events.js';
import { DROP_KEYS, ndjsonLine, ndjsonLines, RETRANSMIT_KEYS } from '../../src/output/ndjson.js';
import { decode, encode, fixtures } from '../helpers/event-bytes.js';

function decoded(): TraceEvent[] {
  const events: TraceEvent[] = [];
  for (const f of fixtures) decode(encode(f.fields), (e) => events.push(e));
  return events;
}

const nginx: Container = {
  id: 'c0ffee',
  name: 'web "front"',
  runtime: 'docker',
  image: 'nginx:1.25',
  pid: 4242,
  pod: 'web-0',
  namespace: 'shop',
};

describe('NDJSON lines from cached fragments', () => {
  it('equal JSON.stringify for every decoded fixture, raw and enriched', () => {
    const raw = decoded();
    expect(raw.length).toBeGreaterThan(3);
    for (const e of raw) expect(ndjsonLine(e)).toBe(`${JSON.stringify(e)}\n`);
    const info = { ...nginx, netns: 4026532001, cgroupId: null, addresses: [], running: true };
    const enricher = new Enricher({ netfilterEvidence: false, attribute: () => ({ container: info, via: 'netns' }) });
    for (const e of decoded()) {
      enricher.apply(e);
      expect(ndjsonLine(e)).toBe(`${JSON.stringify(e)}\n`);
      // twice: the second line comes from the caches
      expect(ndjsonLine(e)).toBe(`${JSON.stringify(e)}\n`);
    }
  });

  it('escape what the kernel and the runtimes hand over (names, hints, rules)', () => {
    const [first] = decoded().filter((e): e is DropRecord => e.type === 'drop');
    const hostile: DropRecord = {
      ...first,
      ifname: 'ev"il\\\n\u0001',
      peer: { ifindex: 3, ifname: 'vé\u2028th', mtu: 1500, netns: 7 },
      hint: 'rule `-A INPUT -m comment --comment "x\ty"` \ud800',
      container: { ...nginx, name: 'naïve\u0000' },
      evidence: { len: 10, rule: '-j DROP "q"', rule_packets: 0, qdisc: undefined },
    };
    expect(ndjsonLine(hostile)).toBe(`${JSON.stringify(hostile)}\n`);
    expect(JSON.parse(ndjsonLine(hostile))).toEqual(JSON.parse(JSON.stringify(hostile)));
  });

  it('writes the keys in the order the record types declare', () => {
    const events = decoded();
    const drop = events.find((e) => e.type === 'drop') as DropRecord;
    const rtx = events.find((e) => e.type === 'retransmit') as RetransmitRecord;
    expect(Object.keys(JSON.parse(ndjsonLine(drop)))).toEqual([...DROP_KEYS]);
    expect(Object.keys(JSON.parse(ndjsonLine(rtx)))).toEqual([...RETRANSMIT_KEYS]);
  });

  it('writes other records with JSON.stringify, one per line', () => {
    const records: DroptraceRecord[] = [
      { type: 'lost', time: '2026-01-01T00:00:00.000000000Z', host: 'node-1', where: 'kernel', count: 3, total: 3 },
      ...decoded(),
    ];
    expect(ndjsonLines(records)).toBe(records.map((r) => `${JSON.stringify(r)}\n`).join(''));
  });
});
