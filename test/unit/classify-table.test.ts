import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeReason } from '../../src/classify/classify.js';
import { REASONS } from '../../src/classify/table.js';
import { classifyFacts as classify, type DropFacts, noFacts } from '../helpers/drop-facts.js';

const fixture = (name: string) =>
  readFileSync(new URL(`../fixtures/reasons/${name}`, import.meta.url), 'utf8')
    .split('\n')
    .filter(Boolean);

const LISTS = { 'linux-6.18': fixture('linux-6.18.txt'), 'linux-6.1': fixture('linux-6.1.txt') };

// Reasons documented to stay layer `unknown`: a drop with no reason and no known location.
const UNKNOWN_OK = new Set(['NOT_SPECIFIED']);

const FULL: Omit<DropFacts, 'reason'> = {
  location: 'some_func+0x10/0x20',
  len: 1500,
  ifname: 'eth0',
  mtu: 1500,
  peer: { ifname: 'veth1', mtu: 1500 },
  proto: 'tcp',
  saddr: '10.200.0.1',
  daddr: '10.200.0.2',
  sport: 40000,
  dport: 80,
  direction: 'rx',
  sk_state: 'ESTABLISHED',
  queue_len: 5,
  queue_limit: 128,
  rcvbuf_used: 1000,
  rcvbuf_size: 2000,
  qdisc: 'tbf',
  qdisc_qlen: 3,
  qdisc_backlog: 4500,
  container: 'nginx',
  netfilter: [
    {
      source: 'iptables',
      table: 'filter',
      chain: 'INPUT',
      rule: '-A INPUT -j DROP',
      verdict: 'DROP',
      packets: 7,
      delta: 2,
    },
  ],
  conntrack: { count: 10, max: 100 },
};

const BARE: Omit<DropFacts, 'reason'> = { ...noFacts(), location: '0xffffffff81000000' };

describe.each(Object.entries(LISTS))('every reason of %s', (kernel, reasons) => {
  it('has a plausible number of names', () => {
    expect(reasons.length).toBeGreaterThan(kernel === 'linux-6.1' ? 60 : 120);
    expect(new Set(reasons).size).toBe(reasons.length);
  });

  it.each(reasons)('%s is in the table with a layer', (reason) => {
    expect(REASONS[reason], `add ${reason} to src/classify/table.ts`).toBeDefined();
    const d = describeReason(reason);
    expect(d.fallback).toBe(false);
    if (!UNKNOWN_OK.has(reason)) expect(d.layer).not.toBe('unknown');
    expect(d.component).not.toBe('');
  });

  it.each(reasons)('%s renders a complete hint from full facts', (reason) => {
    const c = classify({ reason, ...FULL });
    expect(c.hint).not.toMatch(/[{}[\]]|\?/);
    expect(c.hint).toMatch(/ in nginx('s namespace)?$/);
    expect(c.component).not.toMatch(/^\$/);
  });

  it.each(reasons)('%s classifies bare facts without throwing', (reason) => {
    const c = classify({ reason, ...BARE });
    expect(c.hint.length).toBeGreaterThan(5);
    expect(c.hint).not.toMatch(/[{}[\]]/);
    expect(c.component).not.toMatch(/^\$/);
  });
});

describe('unknown reasons fall back to a prefix of the name', () => {
  it.each([
    ['TCP_SOMETHING_NEW', 'transport', 'tcp'],
    ['UDP_SOMETHING_NEW', 'transport', 'udp'],
    ['IP_SOMETHING_NEW', 'ip', 'ip'],
    ['IPV6_NDISC_NEW', 'ip', 'ndisc'],
    ['IPV6_NEW', 'ip', 'ipv6'],
    ['IP_TUNNEL_NEW', 'tunnel', 'ip-tunnel'],
    ['NETFILTER_NEW', 'netfilter', 'netfilter'],
    ['QDISC_NEW', 'qdisc', 'tbf'], // the event's qdisc kind names the component
    ['SOCKET_NEW', 'socket', 'socket'],
    ['NEIGH_NEW', 'ip', 'neigh'],
    ['VXLAN_NEW', 'tunnel', 'vxlan'],
    ['OVS_DROP_METER', 'link', 'openvswitch'],
    ['RX_DROP_U_MIC_FAIL', 'link', 'mac80211'],
    ['XFRM_NEW', 'xfrm', 'xfrm'],
    ['WHOLLY_UNHEARD_OF', 'unknown', 'unknown'],
  ])('%s → %s/%s, fallback', (reason, layer, component) => {
    const c = classify({ reason, ...FULL });
    expect([c.layer, c.component, c.fallback]).toEqual([layer, component, true]);
    expect(c.hint).toContain(reason);
    // the hint tells the reader the reason was placed by its name, not by the table
    expect(c.hint).toMatch(
      layer === 'unknown' ? /is not in droptrace's table/ : /\[reason not in droptrace's table; placed by its name\]$/,
    );
  });

  it('says so for a known reason too: fallback false', () => {
    expect(classify({ reason: 'TCP_CLOSE', ...FULL }).fallback).toBe(false);
  });
});

describe('benign reasons (normal operation that looks like drops)', () => {
  it.each([
    ['QUEUE_PURGE', true],
    ['SOCKET_CLOSE', true],
    ['TCP_CLOSE', true],
    ['TCP_OLD_DATA', true],
    ['TCP_OLD_ACK', true],
    ['TCP_OLD_SEQUENCE', true],
    ['TCP_INVALID_SYN', true],
    // PAWS rejects lose the segments and SYNs of clients behind NAT: shown; pure-ACK reordering is not
    ['TCP_RFC7323_TW_PAWS', false],
    ['TCP_RFC7323_PAWS', false],
    ['TCP_RFC7323_PAWS_ACK', true],
    ['NETFILTER_DROP', false],
    ['NO_SOCKET', false],
    ['TCP_LISTEN_OVERFLOW', false],
    ['SOCKET_RCVBUFF', false],
    ['QDISC_DROP', false],
    ['IP_RPFILTER', false],
    ['IP_OUTNOROUTES', false],
  ])('%s benign=%s', (reason, benign) => {
    expect(classify({ reason, ...FULL }).benign).toBe(benign);
  });

  it.each([
    ['ip6_rcv_core+0x36f', 'ff02::16', true],
    ['ip_rcv_finish_core+0x1', '224.0.0.22', true],
    ['ip6_mc_input+0x15e', 'ff02::2', true],
    ['ip6_rcv_core+0x36f', 'fd00::1', false],
    ['ip_rcv_finish_core+0x1', '10.0.0.1', false],
    ['__dev_forward_skb2+0x87', '239.1.2.3', true],
  ])('NOT_SPECIFIED at %s to %s: benign=%s (multicast nobody joined)', (location, daddr, benign) => {
    const c = classify({ ...FULL, reason: 'NOT_SPECIFIED', location, daddr });
    expect(c.benign).toBe(benign);
    if (benign) expect(c.hint).toMatch(new RegExp(`^multicast to ${daddr.replace(/\./g, '\\.')} not joined here \\(normal\\)`));
  });

  it.each([
    ['ff02::2', true], // router solicitation from the host end of a container's veth
    ['ff02::16', true], // MLD report
    ['fd00::1', false], // unicast IPv6 to a device with IPv6 off: traffic is lost
  ])('IPV6DISABLED to %s: benign=%s', (daddr, benign) => {
    const c = classify({ ...FULL, reason: 'IPV6DISABLED', location: 'ipv6_rcv+0x1', daddr });
    expect(c.benign).toBe(benign);
  });
});
