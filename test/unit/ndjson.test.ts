/**
 * The NDJSON writer builds drop and retransmit lines as bytes from cached fragments: they must be
 * exactly jsonLine's (JSON.stringify, escaped), key order included, for every record the decoder
 * and the enricher make.
 */
import { describe, expect, it } from 'vitest';
import { Enricher } from '../../src/enrich.js';
import type { Container, DropRecord, DroptraceRecord, RetransmitRecord, TraceEvent } from '../../src/events.js';
import { DROP_KEYS, jsonLine, ndjsonBytes, RETRANSMIT_KEYS, releaseBytes } from '../../src/output/ndjson.js';
import { decode, encode, fixtures } from '../helpers/event-bytes.js';

/** One record's line from the byte writer, as text. */
function ndjsonLine(r: DroptraceRecord): string {
  return ndjsonBytes([r]).toString('utf8');
}

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
    expect(ndjsonLine(hostile)).toBe(jsonLine(hostile));
    expect(JSON.parse(ndjsonLine(hostile))).toEqual(JSON.parse(JSON.stringify(hostile)));
    // bidi and C1 controls are escaped as jsonLine escapes them: the terminal never sees them raw
    const bidi: DropRecord = { ...hostile, hint: 'a\u202eb\u0085', container: { ...nginx, name: '\u2066x' } };
    const line = ndjsonLine(bidi);
    expect(line).toBe(jsonLine(bidi));
    expect(line).not.toMatch(/[\u0085\u202e\u2066]/);
    expect(JSON.parse(line)).toEqual(JSON.parse(JSON.stringify(bidi)));
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
    expect(ndjsonBytes(records).toString('utf8')).toBe(records.map((r) => `${JSON.stringify(r)}\n`).join(''));
  });

  it('numbers as JSON.stringify writes them: negative, fractional, large, not finite', () => {
    const [first] = decoded().filter((e): e is DropRecord => e.type === 'drop');
    for (const len of [0, 9, 10, 99, 4294967295, 4294967296, 2 ** 53, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      const e: DropRecord = { ...first, len, evidence: { queue_len: len } };
      expect(ndjsonLine(e)).toBe(jsonLine(e));
    }
  });

  it('chunks already handed out stay as written while later ones fill and outgrow the slab', () => {
    const drops = decoded().filter((e): e is DropRecord => e.type === 'drop');
    const records: DropRecord[] = [];
    for (let i = 0; i < 4000; i++) records.push({ ...drops[i % drops.length], hint: `hint ${i} ${'x'.repeat(i % 300)}`, len: i });
    const chunks: [Buffer, string][] = [];
    for (let i = 0; i < records.length; i += 96) {
      const part = records.slice(i, i + 96);
      chunks.push([ndjsonBytes(part), part.map(jsonLine).join('')]);
    }
    // one record larger than a slab
    const huge: DropRecord = { ...drops[0], hint: 'y'.repeat(3 << 20) };
    chunks.push([ndjsonBytes([huge]), jsonLine(huge)]);
    expect(chunks.reduce((n, [b]) => n + b.length, 0)).toBeGreaterThan(2 << 20);
    for (const [bytes, text] of chunks) expect(bytes.toString('utf8')).toBe(text);
  });

  it('fills a slab again once every chunk of it is given back, and never one with a chunk still out', () => {
    const drops = decoded().filter((e): e is DropRecord => e.type === 'drop');
    const part = Array.from({ length: 96 }, (_, i) => ({ ...drops[i % drops.length], len: i }));
    const text = part.map(jsonLine).join('');
    // one chunk kept, as a reader that has not taken it yet would
    const kept = ndjsonBytes(part);
    const keptBuffer = kept.buffer;
    const seen = new Set<ArrayBufferLike>();
    let reused = false;
    for (let i = 0; i < 400; i++) {
      const chunk = ndjsonBytes(part);
      expect(chunk.toString('utf8')).toBe(text);
      if (seen.has(chunk.buffer)) reused = true;
      seen.add(chunk.buffer);
      releaseBytes(chunk);
      // given back twice by mistake: ignored once its slab has none out
      releaseBytes(chunk);
    }
    expect(reused).toBe(true);
    expect(seen.has(keptBuffer)).toBe(true);
    expect(kept.toString('utf8')).toBe(text);
  });
});
