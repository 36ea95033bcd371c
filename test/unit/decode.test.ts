import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createDecoder } from '../../src/decode/decoder.js';
import { WallClock } from '../../src/decode/format.js';
import type { TraceEvent } from '../../src/events.js';
import { caStateNames, reasonNames, tcpStateNames } from '../../src/kernel/btf-names.js';
import { loadAddon } from '../../src/native/addon.js';
import { bpfStructLayout } from '../helpers/bpf-object.js';
import { assertValidRecord } from '../helpers/schema.js';

interface Fixture {
  name: string;
  fields: Record<string, string | number>;
  expect: Record<string, unknown>;
}

const fixtures = JSON.parse(readFileSync(new URL('../fixtures/events/events.json', import.meta.url), 'utf8')) as Fixture[];
const addon = loadAddon();
const reasons = reasonNames(addon);
const tcpStates = tcpStateNames(addon);
const caStates = caStateNames(addon);
// the bytes are laid out from the BPF object's BTF, not from the addon the decoder uses
const layout = bpfStructLayout('dt_event');

/** struct dt_event bytes from a fixture; names (reasons, states) become this kernel's numbers. */
function encode(fields: Fixture['fields']): Buffer {
  const buf = Buffer.alloc(layout.size);
  for (const [name, value] of Object.entries(fields)) {
    const [offset, size] = layout.fields[name];
    if (name === 'reason') buf.writeUInt32LE(reasons.code(String(value)) ?? 0xffff, offset);
    else if (name === 'sk_state') buf.writeUInt8(tcpStates.indexOf(String(value)), offset);
    else if (name === 'ca_state') buf.writeUInt8(caStates.indexOf(String(value)), offset);
    else if (name === 'location') buf.writeBigUInt64LE(BigInt(`0x${value}`), offset);
    else if (name === 'ts_ns' || name === 'cgroup_id') buf.writeBigUInt64LE(BigInt(value), offset);
    else if (name === 'saddr' || name === 'daddr') Buffer.from(String(value), 'hex').copy(buf, offset);
    else if (typeof value === 'string') buf.write(value, offset, size, 'latin1');
    else if (size === 4 && value < 0) buf.writeInt32LE(value, offset);
    else buf.writeUIntLE(value, offset, size);
  }
  return buf;
}

const decode = createDecoder({
  layout: addon.layout,
  reasons,
  tcpStates,
  caStates,
  symbolize: (hi, lo) => `sym@${hi.toString(16)}:${lo.toString(16)}`,
  // 2026-01-01T00:00:00Z as the realtime-minus-monotonic offset
  clock: new WallClock(1767225600, 0),
});

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
