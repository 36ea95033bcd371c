/** struct dt_event bytes from test/fixtures/events/events.json, and a decoder with a pinned clock. */
import { readFileSync } from 'node:fs';
import { createDecoder } from '../../src/decode/decoder.js';
import { WallClock } from '../../src/decode/format.js';
import { caStateNames, reasonNames, tcpStateNames } from '../../src/kernel/btf-names.js';
import { loadAddon } from '../../src/native/addon.js';
import { bpfStructLayout } from './bpf-object.js';

export interface Fixture {
  name: string;
  fields: Record<string, string | number>;
  expect: Record<string, unknown>;
}

export const fixtures = JSON.parse(readFileSync(new URL('../fixtures/events/events.json', import.meta.url), 'utf8')) as Fixture[];
const addon = loadAddon();
export const reasons = reasonNames(addon);
const tcpStates = tcpStateNames(addon);
const caStates = caStateNames(addon);
// the bytes are laid out from the BPF object's BTF, not from the addon the decoder uses
export const layout = bpfStructLayout('dt_event');

/** struct dt_event bytes from a fixture; names (reasons, states) become this kernel's numbers. */
export function encode(fields: Fixture['fields']): Buffer {
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

export const decode = createDecoder({
  layout: addon.layout,
  reasons,
  tcpStates,
  caStates,
  symbolize: (hi, lo) => `sym@${hi.toString(16)}:${lo.toString(16)}`,
  // 2026-01-01T00:00:00Z as the realtime-minus-monotonic offset
  clock: new WallClock(1767225600, 0),
});
