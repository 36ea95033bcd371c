import { describe, expect, it } from 'vitest';
import { locationFunction } from '../../src/classify/classify.js';
import { classifyFacts as classify, type DropFacts, noFacts } from '../helpers/drop-facts.js';

const base: DropFacts = { ...noFacts('NOT_SPECIFIED'), len: 100, direction: 'rx' };
const ev = (over: Partial<DropFacts>): DropFacts => ({ ...base, ...over });

describe('locationFunction', () => {
  it.each([
    ['tcp_v4_rcv+0x91/0x1040', 'tcp_v4_rcv'],
    ['__dev_forward_skb2+0x1a', '__dev_forward_skb2'],
    ['udp_queue_rcv_one_skb.isra.0+0x44', 'udp_queue_rcv_one_skb'],
    ['nft_do_chain', 'nft_do_chain'],
    ['0xffffffff81a2b3c4', ''],
    ['', ''],
  ])('%s → %s', (loc, fn) => expect(locationFunction(loc)).toBe(fn));
});

describe('NOT_SPECIFIED is classified by location', () => {
  it.each([
    ['__dev_forward_skb2+0x10', 'link', 'veth', false],
    ['veth_xmit+0x20', 'link', 'veth', false],
    ['nf_hook_slow+0x90', 'netfilter', 'netfilter', false],
    ['nft_do_chain+0x3a0', 'netfilter', 'nftables', false],
    ['ip6_mc_input+0x110', 'ip', 'multicast', true],
    ['sk_stream_kill_queues+0x50', 'socket', 'purge', true],
    ['skb_queue_purge_reason+0x9f', 'socket', 'purge', true],
    ['virtio_transport_recv_pkt+0x1e0', 'socket', 'vsock', true],
    ['__dev_queue_xmit+0x7e0', 'qdisc', 'qdisc', false],
    ['tcp_v4_rcv+0x91', 'transport', 'tcp', false],
    ['tcp_v6_rcv+0x91', 'transport', 'tcp', false],
    ['__udp4_lib_rcv+0x400', 'transport', 'udp', false],
    ['__udp6_lib_rcv+0x400', 'transport', 'udp', false],
    ['ip_error+0x40', 'ip', 'routing', false],
    ['enqueue_to_backlog+0x40', 'link', 'cpu-backlog', false],
    // prefix rules for sites not listed by name
    ['br_handle_frame_finish+0x12', 'link', 'bridge', false],
    ['tcp_rcv_state_process+0x12', 'transport', 'tcp', false],
    ['ip6_input_finish+0x12', 'ip', 'ip', false],
    ['ip_tunnel_rcv+0x12', 'tunnel', 'ip-tunnel', false],
    ['neigh_resolve_output+0x12', 'ip', 'neigh', false],
    ['unix_stream_sendmsg+0x12', 'socket', 'unix', false],
    ['xfrm_input+0x12', 'xfrm', 'xfrm', false],
    // no rule: documented unknown
    ['some_driver_rx+0x12', 'unknown', 'unspecified', false],
    ['0xffffffffc0001234', 'unknown', 'unspecified', false],
  ])('%s → %s/%s benign=%s', (location, layer, component, benign) => {
    const c = classify(ev({ location }));
    expect([c.layer, c.component, c.benign, c.fallback]).toEqual([layer, component, benign, false]);
  });

  it('names the function when nothing else is known', () => {
    expect(classify(ev({ location: 'some_driver_rx+0x12' })).hint).toBe('dropped without a reason at some_driver_rx');
  });

  it('does not let a location override a specific reason', () => {
    const c = classify(ev({ reason: 'NO_SOCKET', location: 'ip6_mc_input+0x10', proto: 'udp', dport: 53 }));
    expect([c.layer, c.component, c.benign]).toEqual(['transport', 'udp', false]);
  });
});

describe('hints name the numbers of the event', () => {
  it.each<[string, Partial<DropFacts>, string, Record<string, unknown>]>([
    [
      'MTU of the veth peer',
      { location: '__dev_forward_skb2+0x10', len: 130, ifname: 'vethX', mtu: 1500, peer: { ifname: 'eth0', mtu: 100 } },
      'segment of 130 bytes exceeds MTU 100 of eth0 (peer of vethX)',
      { len: 130, mtu: 1500, peer_mtu: 100 },
    ],
    [
      'MTU of the veth peer, in a container',
      {
        location: '__dev_forward_skb2+0x10',
        len: 130,
        ifname: 'vethX',
        mtu: 1500,
        peer: { ifname: 'eth0', mtu: 100 },
        container: 'nginx',
      },
      'segment of 130 bytes exceeds MTU 100 of eth0 (peer of vethX) in nginx',
      { len: 130, mtu: 1500, peer_mtu: 100 },
    ],
    [
      'own MTU',
      { location: 'veth_xmit+0x10', len: 1600, ifname: 'veth0', mtu: 1500, peer: { ifname: 'eth0', mtu: 9000 } },
      'segment of 1600 bytes exceeds MTU 1500 of veth0',
      { len: 1600, mtu: 1500, peer_mtu: 9000 },
    ],
    [
      'veth drop not about size',
      { location: '__dev_forward_skb2+0x10', len: 60, ifname: 'veth0', mtu: 1500, peer: { ifname: 'eth0', mtu: 1500 } },
      'veth0 could not forward to its peer eth0 (peer down, or too big for it)',
      { len: 60, mtu: 1500, peer_mtu: 1500 },
    ],
    [
      'accept queue',
      {
        reason: 'TCP_LISTEN_OVERFLOW',
        location: 'tcp_v4_rcv+0x91',
        proto: 'tcp',
        dport: 80,
        queue_len: 129,
        queue_limit: 128,
      },
      'accept queue of :80 full (129/128): the application does not accept fast enough or its listen backlog is too small (raise it, e.g. nginx `listen … backlog=`, and net.core.somaxconn)',
      { queue_len: 129, queue_limit: 128 },
    ],
    [
      'accept queue full at a SYN-cookie ACK (NO_SOCKET from the listener)',
      {
        reason: 'NO_SOCKET',
        location: 'cookie_v4_check+0x5c2',
        proto: 'tcp',
        dport: 80,
        sk_state: 'LISTEN',
        queue_len: 2,
        queue_limit: 1,
      },
      'accept queue of :80 full (2/1): the handshake completed with a SYN cookie and was dropped; the application does not accept fast enough or its listen backlog is too small (raise it, e.g. nginx `listen … backlog=`, and net.core.somaxconn)',
      { queue_len: 2, queue_limit: 1 },
    ],
    [
      'a SYN-cookie ACK on IPv6 with room in the queue: not a closed port',
      {
        reason: 'NO_SOCKET',
        location: 'cookie_v6_check+0x10',
        proto: 'tcp',
        dport: 80,
        sk_state: 'LISTEN',
        queue_len: 0,
        queue_limit: 128,
      },
      'SYN-cookie ACK to :80 could not become a connection (memory or route) (accept queue 0/128)',
      { queue_len: 0, queue_limit: 128 },
    ],
    [
      'neighbour table full',
      {
        reason: 'NEIGH_CREATEFAIL',
        location: 'ip_finish_output2+0x37e',
        family: 'ipv4',
        daddr: '10.0.0.9',
        neigh_entries: 1024,
        gc_thresh3: 1024,
      },
      'neighbour table arp_cache full (1024/1024 entries): no entry for 10.0.0.9; raise net.ipv4.neigh.default.gc_thresh3 (host-wide) or find what fills the table',
      { neigh_entries: 1024, gc_thresh3: 1024 },
    ],
    [
      'neighbour creation failed, limit unknown (classic tracepoint)',
      { reason: 'NEIGH_CREATEFAIL', location: 'ip6_finish_output2+0x1', family: 'ipv6', daddr: 'fd00::9', neigh_entries: 300 },
      'could not create a neighbour entry for fd00::9 (300 entries in the table)',
      { neigh_entries: 300 },
    ],
    [
      'closed port stays a closed port',
      { reason: 'NO_SOCKET', location: 'tcp_v4_rcv+0x91', proto: 'tcp', dport: 81 },
      'no socket listening on tcp :81 (closed port)',
      {},
    ],
    [
      'PAWS',
      { reason: 'TCP_RFC7323_PAWS', location: 'tcp_validate_incoming+0x1', proto: 'tcp', dport: 80, sk_state: 'ESTABLISHED' },
      'PAWS: segment to :80 rejected for an old timestamp (a stale duplicate, or clients behind one NAT address with different timestamp clocks)',
      {},
    ],
    [
      'accept queue without socket facts',
      { reason: 'TCP_LISTEN_OVERFLOW', location: 'tcp_v4_rcv+0x91', proto: 'tcp', dport: 80 },
      'accept queue of :80 full: the application does not accept fast enough or its listen backlog is too small (raise it, e.g. nginx `listen … backlog=`, and net.core.somaxconn)',
      {},
    ],
    [
      'receive buffer',
      {
        reason: 'SOCKET_RCVBUFF',
        location: 'udp_queue_rcv_one_skb+0x1',
        proto: 'udp',
        dport: 9000,
        rcvbuf_used: 2304,
        rcvbuf_size: 2304,
      },
      'receive buffer of udp :9000 full (2304/2304 bytes)',
      { rcvbuf_used: 2304, rcvbuf_size: 2304 },
    ],
    [
      'tbf qdisc',
      {
        reason: 'QDISC_DROP',
        location: '__dev_queue_xmit+0x7e0',
        ifname: 'veth0',
        qdisc: 'tbf',
        qdisc_qlen: 3,
        qdisc_backlog: 4542,
      },
      'tbf qdisc on veth0 over its limit (qlen 3)',
      { qdisc: 'tbf', qdisc_qlen: 3, qdisc_backlog: 4542 },
    ],
    [
      'qdisc of unknown kind',
      { reason: 'QDISC_DROP', location: '__dev_queue_xmit+0x7e0', ifname: 'veth0' },
      'qdisc on veth0 over its limit',
      {},
    ],
    [
      'closed port',
      { reason: 'NO_SOCKET', location: '__udp4_lib_rcv+0x1', proto: 'udp', dport: 9 },
      'no socket listening on udp :9 (closed port)',
      {},
    ],
    [
      'netfilter rule found by its counter',
      {
        reason: 'NETFILTER_DROP',
        location: 'nft_do_chain+0x3a0',
        container: 'nginx',
        netfilter: [
          {
            source: 'iptables',
            table: 'filter',
            chain: 'INPUT',
            rule: '-A INPUT -m statistic --mode random --probability 0.3 -j DROP',
            verdict: 'DROP',
            packets: 42,
            delta: 5,
          },
        ],
      },
      "dropped by iptables rule `-A INPUT -m statistic --mode random --probability 0.3 -j DROP` in nginx's namespace",
      { rule: '-A INPUT -m statistic --mode random --probability 0.3 -j DROP', rule_packets: 42, table: 'filter' },
    ],
    [
      'netfilter: several drop rules counted around the drop',
      {
        reason: 'NETFILTER_DROP',
        location: 'nft_do_chain+0x3a0',
        netfilter: [
          {
            source: 'iptables',
            table: 'filter',
            chain: 'INPUT',
            rule: '-A INPUT -p udp -m udp --dport 7001 -j DROP',
            verdict: 'DROP',
            packets: 3,
            delta: 1,
          },
          {
            source: 'iptables',
            table: 'filter',
            chain: 'INPUT',
            rule: '-A INPUT -p udp -m udp --dport 7002 -j DROP',
            verdict: 'DROP',
            packets: 2,
            delta: 1,
          },
        ],
      },
      'dropped by one of 2 iptables rules: `-A INPUT -p udp -m udp --dport 7001 -j DROP` or `-A INPUT -p udp -m udp --dport 7002 -j DROP`',
      { rule_candidates: ['-A INPUT -p udp -m udp --dport 7001 -j DROP', '-A INPUT -p udp -m udp --dport 7002 -j DROP'] },
    ],
    [
      'conntrack full',
      { reason: 'NETFILTER_DROP', location: 'nf_hook_slow+0x90', conntrack: { count: 262144, max: 262144 } },
      'conntrack table full (262144/262144)',
      { conntrack_count: 262144, conntrack_max: 262144 },
    ],
    [
      'netfilter without evidence at nft_do_chain',
      { reason: 'NETFILTER_DROP', location: 'nft_do_chain+0x3a0', netfilter: [], conntrack: { count: 3, max: 262144 } },
      'dropped by an nftables/iptables-nft rule (no rule counter rose)',
      { conntrack_count: 3, conntrack_max: 262144 },
    ],
    [
      'netfilter before the ruleset was read',
      { reason: 'NETFILTER_DROP', location: 'nft_do_chain+0x3a0' },
      'dropped by netfilter (reading the ruleset to name the rule)',
      {},
    ],
    [
      'rp_filter',
      { reason: 'IP_RPFILTER', location: 'ip_rcv_finish_core+0x1', ifname: 'veth1', saddr: '10.201.0.9' },
      'reverse-path filter: no route back to 10.201.0.9 via veth1',
      {},
    ],
    [
      'no route on output',
      { reason: 'IP_OUTNOROUTES', location: '__ip_queue_xmit+0x1', daddr: '10.202.0.1', direction: 'tx' },
      'no route to 10.202.0.1 on output',
      {},
    ],
  ])('%s', (_name, over, hint, evidence) => {
    const c = classify(ev(over));
    expect(c.hint).toBe(hint);
    expect(c.evidence).toEqual(evidence);
  });

  it('names the component from the evidence', () => {
    const nf = (source: 'iptables' | 'ip6tables' | 'iptables-legacy' | 'nftables') =>
      classify(
        ev({
          reason: 'NETFILTER_DROP',
          location: 'nft_do_chain+0x1',
          netfilter: [{ source, table: 't', chain: 'c', rule: 'r', verdict: 'DROP', packets: 1, delta: 1 }],
        }),
      ).component;
    expect([nf('iptables'), nf('ip6tables'), nf('iptables-legacy'), nf('nftables')]).toEqual([
      'iptables',
      'iptables',
      'iptables',
      'nftables',
    ]);
    const ct = classify(ev({ reason: 'NETFILTER_DROP', location: 'nf_hook_slow+0x1', conntrack: { count: 5, max: 5 } }));
    expect(ct.component).toBe('conntrack');
    const tbf = classify(ev({ reason: 'QDISC_DROP', location: '__dev_queue_xmit+0x1', qdisc: 'tbf' }));
    expect([tbf.layer, tbf.component]).toEqual(['qdisc', 'tbf']);
  });

  it('uses the local port by direction', () => {
    const tx = classify(ev({ reason: 'NO_SOCKET', location: 'x+0x1', proto: 'tcp', sport: 8080, dport: 5555, direction: 'tx' }));
    expect(tx.hint).toBe('no socket listening on tcp :8080 (closed port)');
  });

  it('keeps results apart for events sharing a cached (reason, location)', () => {
    const a = classify(
      ev({
        reason: 'SOCKET_RCVBUFF',
        location: 'udp_queue_rcv_one_skb+0x1',
        proto: 'udp',
        dport: 1,
        rcvbuf_used: 1,
        rcvbuf_size: 2,
      }),
    );
    const b = classify(
      ev({
        reason: 'SOCKET_RCVBUFF',
        location: 'udp_queue_rcv_one_skb+0x1',
        proto: 'udp',
        dport: 2,
        rcvbuf_used: 3,
        rcvbuf_size: 4,
      }),
    );
    expect(a.hint).toBe('receive buffer of udp :1 full (1/2 bytes)');
    expect(b.hint).toBe('receive buffer of udp :2 full (3/4 bytes)');
    // the second event's numbers did not overwrite the first's
    expect(a.evidence).toEqual({ rcvbuf_used: 1, rcvbuf_size: 2 });
    expect(b.evidence).toEqual({ rcvbuf_used: 3, rcvbuf_size: 4 });
  });
});
