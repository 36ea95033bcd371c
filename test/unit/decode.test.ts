import { describe, expect, it } from 'vitest';
import { createDecoder } from '../../src/decode/decoder.js';
import { WallClock } from '../../src/decode/format.js';
import type { TraceEvent } from '../../src/events.js';
import { caStateNames, tcpStateNames } from '../../src/kernel/btf-names.js';
import { loadAddon } from '../../src/native/addon.js';
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

describe('a kernel without drop reasons (before 5.17)', () => {
  // the reason names of such a kernel: its BTF has no enum skb_drop_reason
  const addon = loadAddon();
  const tcpStates = tcpStateNames(addon);
  const caStates = caStateNames(addon);
  const none = { available: false, name: (c: number) => `UNKNOWN_${c}`, code: () => undefined, names: () => [] };
  const at = (func: string) =>
    createDecoder({
      layout: addon.layout,
      reasons: none,
      tcpStates,
      caStates,
      symbolize: () => `${func}+0x1c4`,
      clock: new WallClock(1767225600, 0),
    });

  it.each([
    ['nf_hook_slow', 'NETFILTER_DROP'],
    ['tcp_v4_rcv', 'NO_SOCKET'],
    ['__udp4_lib_rcv', 'NO_SOCKET'],
    ['__udp_queue_rcv_skb', 'SOCKET_RCVBUFF'],
    ['skb_queue_purge', 'QUEUE_PURGE'],
    ['unix_stream_connect', 'NOT_SPECIFIED'],
    ['kfree_skb_list', 'NOT_SPECIFIED'],
  ])('a drop at %s is %s, derived from the location, with no reason number', (func, reason) => {
    const events: TraceEvent[] = [];
    at(func)(encode({ type: 1 }), (e) => events.push(e));
    expect(events[0]).toMatchObject({ reason, reason_code: null, reason_source: 'location', location: `${func}+0x1c4` });
    assertValidRecord(events[0]);
  });
});

describe('kfree_skb_list before 5.17', () => {
  it.each([
    ['netem', 'QDISC_DROP'],
    ['noqueue', 'NOT_SPECIFIED'],
  ])('on a device whose root qdisc is %s: %s', async (qdisc, reason) => {
    const { derivedReason } = await import('../../src/kernel/reasonless.js');
    expect(derivedReason('kfree_skb_list+0x19', qdisc)).toBe(reason);
  });
});
