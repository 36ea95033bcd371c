import { describe, expect, it } from 'vitest';
import { kernelFeatures } from '../../src/kernel/features.js';
import type { Addon } from '../../src/native/addon.js';

/** The BTF facts of a kernel generation, as the addon's BTF queries answer them. */
function btfOf(k: { reasons: boolean; kfreeArgs: number; rtxArgs: number; members: string[] }): Addon {
  return {
    btfEnum: ({ name }: { name?: string }) => (name === 'skb_drop_reason' && k.reasons ? [['SKB_DROP_REASON_NO_SOCKET', 2]] : null),
    btfHas: ({ struct, member }: { struct: string; member?: string }) => k.members.includes(member ? `${struct}.${member}` : struct),
    tracepointArgs: (name: string) => (name === 'kfree_skb' ? k.kfreeArgs : k.rtxArgs),
  } as unknown as Addon;
}

const linux510 = btfOf({ reasons: false, kfreeArgs: 2, rtxArgs: 2, members: ['sock_cgroup_data.val', 'trace_event_raw_kfree_skb'] });
const linux61 = btfOf({
  reasons: true,
  kfreeArgs: 3,
  rtxArgs: 2,
  members: ['sock_cgroup_data.cgroup', 'trace_event_raw_kfree_skb', 'trace_event_raw_kfree_skb.reason'],
});
const linux618 = btfOf({
  reasons: true,
  kfreeArgs: 4,
  rtxArgs: 3,
  members: ['sock_cgroup_data.cgroup', 'trace_event_raw_kfree_skb.reason', 'trace_event_raw_kfree_skb.rx_sk', 'veth_priv'],
});

describe('what the start record says each kernel lacks', () => {
  it('5.10: no reasons (derived from the location), no rx_sk; the cgroup from the packed field; veth not loaded', () => {
    const { features, notes } = kernelFeatures(linux510, { attachMode: 'tracepoint', listenSynAvailable: false }, '/nonexistent');
    expect(features).toEqual({
      drop_reasons: false,
      rx_sk: false,
      socket_cgroup: true,
      veth_peer: true,
      retransmit_err: false,
      listen_syn: false,
    });
    expect(notes.filter((n) => n.includes('5.17'))).toHaveLength(1);
    expect(notes.filter((n) => n.includes('TcpExtListenOverflows'))).toHaveLength(1);
    expect(notes.filter((n) => n.includes('veth'))).toHaveLength(1);
  });

  it('6.1 on tp_btf: reasons, no rx_sk, no retransmit err', () => {
    const { features, notes } = kernelFeatures(linux61, { attachMode: 'tp_btf', listenSynAvailable: false }, '/nonexistent');
    expect(features).toEqual({
      drop_reasons: true,
      rx_sk: false,
      socket_cgroup: true,
      veth_peer: true,
      retransmit_err: false,
      listen_syn: false,
    });
    expect(notes.some((n) => n.includes('5.17'))).toBe(false);
  });

  it('6.18 with veth built in: everything, nothing to say', () => {
    expect(kernelFeatures(linux618, { attachMode: 'tp_btf', listenSynAvailable: true }, '/nonexistent')).toEqual({
      features: { drop_reasons: true, rx_sk: true, socket_cgroup: true, veth_peer: true, retransmit_err: true, listen_syn: true },
      notes: [],
    });
    // the classic tracepoint passes no retransmit result
    expect(kernelFeatures(linux618, { attachMode: 'tracepoint', listenSynAvailable: false }, '/nonexistent').features.retransmit_err).toBe(
      false,
    );
  });
});
