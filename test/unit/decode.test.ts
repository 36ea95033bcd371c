import { describe, expect, it } from 'vitest';
import type { TraceEvent } from '../../src/events.js';
import { decode, encode, fixtures, layout } from '../helpers/event-bytes.js';
import { assertValidRecord } from '../helpers/schema.js';

describe('decoding struct dt_event bytes', () => {
  it.each(fixtures.map((f) => [f.name, f] as const))('%s', (_name, fixture) => {
    const events: TraceEvent[] = [];
    expect(decode(encode(fixture.fields), (e) => events.push(e))).toBe(1);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject(fixture.expect);
    assertValidRecord(events[0]);
  });

  it('decodes a whole batch in order and ignores a trailing partial record', () => {
    const batch = Buffer.concat([...fixtures.map((f) => encode(f.fields)), Buffer.alloc(10)]);
    const types: string[] = [];
    expect(decode(batch, (e) => types.push(e.type))).toBe(fixtures.length);
    expect(types).toEqual(fixtures.map((f) => (f.expect.type as string | undefined) ?? 'drop'));
  });

  it('keeps reason numbers this kernel does not name', () => {
    const events: TraceEvent[] = [];
    const buf = encode({ type: 1 });
    buf.writeUInt32LE(0x2_0005, layout.fields.reason[0]); // openvswitch subsystem, code 5
    decode(buf, (e) => events.push(e));
    expect(events[0]).toMatchObject({ reason_code: 0x2_0005 });
    expect(events[0]).toMatchObject({ reason: 'OPENVSWITCH_5' });
  });
});
