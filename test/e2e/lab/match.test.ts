import { describe, expect, it } from 'vitest';
import type { DropRecord, RetransmitRecord } from '../../../src/events.js';
import { dropMismatches, matching, retransmitMismatches } from './match.js';
import type { DropFacts, RetransmitFacts } from './scenarios.js';

const facts: DropFacts = {
  type: 'drop',
  scenario: 'mtu',
  reason: 'NOT_SPECIFIED',
  locations: ['__dev_forward_skb2'],
  side: 'a',
  netns: 4026532317,
  direction: 'tx',
  family: 'ipv4',
  proto: 'tcp',
  saddr: '10.208.1.1',
  daddr: '10.208.1.2',
  sports: [40000, 40002],
  dports: [22823],
  ifname: 'dtla123456a',
  ifindex: 2,
  peer: { ifindex: 2, ifname: 'dtla123456b', mtu: 100, netns: 4026532389 },
  sent: 3,
  minEvents: 3,
};

const record = {
  type: 'drop',
  time: '2025-01-01T00:00:00.000000000Z',
  host: 'node-1',
  reason: 'NOT_SPECIFIED',
  reason_code: 2,
  reason_source: 'kernel',
  location: '__dev_forward_skb2+0x11d',
  direction: 'tx',
  proto: 'tcp',
  family: 'ipv4',
  saddr: '10.208.1.1',
  sport: 40002,
  daddr: '10.208.1.2',
  dport: 22823,
  tcp_flags: 'ACK|PSH',
  len: 454,
  ifindex: 2,
  ifname: 'dtla123456a',
  mtu: 1500,
  netns: 4026532317,
  cgroup_id: null,
  peer: { ifindex: 2, ifname: 'dtla123456b', mtu: 100, netns: 4026532389 },
  sk_state: 'ESTABLISHED',
  container: null,
  container_via: null,
  layer: 'link',
  component: 'veth',
  hint: null,
  benign: false,
  evidence: {},
  detected_by: 'kfree_skb',
} as DropRecord;

const rfacts: RetransmitFacts = {
  type: 'retransmit',
  scenario: 'retransmit-synack',
  kind: 'synack',
  state: 'SYN_RECV',
  side: 'b',
  netns: 4026532389,
  family: 'ipv4',
  proto: 'tcp',
  saddr: '10.208.1.2',
  daddr: '10.208.1.1',
  sports: [22823],
  dports: [40000],
  minEvents: 5,
};

const rrecord: RetransmitRecord = {
  type: 'retransmit',
  time: '2025-01-01T00:00:00.000000000Z',
  host: 'node-1',
  kind: 'synack',
  state: 'SYN_RECV',
  netns: 4026532389,
  cgroup_id: null,
  err: 0,
  segments: 1,
  ca_state: 'Open',
  container: null,
  container_via: null,
  proto: 'tcp',
  family: 'ipv4',
  saddr: '10.208.1.2',
  sport: 22823,
  daddr: '10.208.1.1',
  dport: 40000,
};

describe('dropMismatches', () => {
  it.each([
    ['the promised record', {}, []],
    ['another netns', { netns: 1 }, ['netns 1 != 4026532317']],
    ['the other direction', { direction: 'rx' }, ['direction rx != tx']],
    ['an unknown client port', { sport: 1 }, ['sport 1 not in 40000,40002']],
    ['another function', { location: 'veth_xmit+0x5' }, ['location veth_xmit+0x5 not in __dev_forward_skb2']],
    [
      'a function with the same prefix',
      { location: '__dev_forward_skb2x+0x5' },
      ['location __dev_forward_skb2x+0x5 not in __dev_forward_skb2'],
    ],
    ['no peer', { peer: null }, ['peer missing']],
    ['the peer at another MTU', { peer: { ...record.peer, mtu: 1500 } }, ['peer.mtu 1500 != 100']],
  ] as [string, Partial<DropRecord>, string[]][])('%s', (_, change, want) => {
    expect(dropMismatches(facts, { ...record, ...change })).toEqual(want);
  });

  it('keeps only matching records', () => {
    expect(matching(facts, [record, { ...record, reason: 'NO_SOCKET' }, rrecord])).toEqual([record]);
  });
});

describe('retransmitMismatches', () => {
  it.each([
    ['the promised record', {}, []],
    ['another kind', { kind: 'rto' }, ['kind rto != synack']],
    ['swapped ends', { saddr: '10.208.1.1', daddr: '10.208.1.2' }, ['saddr 10.208.1.1 != 10.208.1.2', 'daddr 10.208.1.2 != 10.208.1.1']],
  ] as [string, Partial<RetransmitRecord>, string[]][])('%s', (_, change, want) => {
    expect(retransmitMismatches(rfacts, { ...rrecord, ...change })).toEqual(want);
  });
});
