import { describe, expect, it } from 'vitest';
import type { DropRecord, RetransmitRecord, SuppressedRecord } from '../../src/events.js';
import { FindingsBuilder, findingsText } from '../../src/explain/findings.js';

function drop(over: Partial<DropRecord>): DropRecord {
  return {
    type: 'drop',
    time: '2026-01-01T00:00:00.000000000Z',
    host: 'node-1',
    reason: 'NETFILTER_DROP',
    reason_code: 6,
    reason_source: 'kernel',
    location: 'nft_do_chain+0x46f',
    direction: 'rx',
    proto: 'udp',
    family: 'ipv4',
    saddr: '10.0.0.1',
    sport: 4000,
    daddr: '10.0.0.2',
    dport: 80,
    tcp_flags: null,
    len: 40,
    ifindex: 2,
    ifname: 'eth0',
    mtu: 1500,
    netns: 100,
    cgroup_id: null,
    peer: null,
    sk_state: null,
    container: null,
    container_via: null,
    layer: 'netfilter',
    component: 'nftables',
    hint: 'dropped by an nftables/iptables-nft rule (no rule counter rose)',
    benign: false,
    evidence: {},
    detected_by: 'kfree_skb',
    ...over,
  };
}

const rtx: RetransmitRecord = {
  type: 'retransmit',
  time: '2026-01-01T00:00:01.000000000Z',
  host: 'node-1',
  kind: 'rto',
  state: 'ESTABLISHED',
  proto: 'tcp',
  family: 'ipv4',
  saddr: '10.0.0.1',
  sport: 4000,
  daddr: '10.0.0.2',
  dport: 80,
  netns: 100,
  cgroup_id: null,
  err: 0,
  segments: 1,
  ca_state: 'Loss',
  container: null,
  container_via: null,
};

describe('FindingsBuilder', () => {
  it('folds drops by where, layer, reason and function, and ranks them by count, benign last', () => {
    const b = new FindingsBuilder((netns) => (netns === 100 ? 'web' : undefined));
    for (let i = 0; i < 3; i++) b.add(drop({}));
    for (let i = 0; i < 5; i++) b.add(drop({ reason: 'QUEUE_PURGE', layer: 'socket', component: 'tcp', benign: true }));
    for (let i = 0; i < 2; i++) b.add(drop({ netns: 200, reason: 'NO_SOCKET', layer: 'transport', component: 'udp' }));
    b.add(rtx);
    const { findings, retransmits } = b.result();
    expect(findings.map((f) => [f.rank, f.where, f.reason, f.count])).toEqual([
      [1, 'web', 'NETFILTER_DROP', 3],
      [2, 'netns:200', 'NO_SOCKET', 2],
      [3, 'web', 'QUEUE_PURGE', 5],
    ]);
    expect(retransmits).toEqual([{ where: 'web', kinds: { rto: 1 }, count: 1 }]);
  });

  it('keeps the most informative hint and its component: one naming the rule beats one that could not', () => {
    const b = new FindingsBuilder();
    b.add(drop({ hint: 'dropped by netfilter (reading the ruleset to name the rule)' }));
    b.add(drop({ hint: 'dropped by iptables rule `-A INPUT -j DROP`', component: 'iptables', evidence: { rule: '-A INPUT -j DROP' } }));
    b.add(drop({}));
    const { findings } = b.result();
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ component: 'iptables', hint: 'dropped by iptables rule `-A INPUT -j DROP`', count: 3 });
    expect(findings[0].evidence).toEqual({ rule: '-A INPUT -j DROP' });
  });

  it('keeps drops of one reason at different functions apart', () => {
    const b = new FindingsBuilder();
    b.add(drop({ location: 'nft_do_chain+0x46f' }));
    b.add(drop({ location: 'nf_hook_slow+0x1f', component: 'conntrack', hint: 'conntrack table full (10/10)' }));
    expect(b.result().findings.map((f) => f.component)).toEqual(['nftables', 'conntrack']);
  });

  it('names a container before a namespace name before an inode', () => {
    const b = new FindingsBuilder(() => 'ns-name');
    const container = { id: 'abc', name: 'nginx', runtime: 'docker', image: null, pid: 1 };
    expect(b.where(drop({ container }))).toBe('nginx');
    expect(b.where(drop({}))).toBe('ns-name');
    expect(new FindingsBuilder().where(drop({}))).toBe('netns:100');
  });
});

describe('causes, not noise', () => {
  const tcp = (over: Partial<DropRecord>) =>
    drop({ proto: 'tcp', layer: 'transport', component: 'tcp', location: 'tcp_v4_rcv+0x99', tcp_flags: 'ACK', ...over });

  it('ranks causes only; a reset and the segments of connections lost to a cause on its port follow it', () => {
    const b = new FindingsBuilder(() => 'web');
    for (let i = 0; i < 4; i++) b.add(tcp({ reason: 'TCP_LISTEN_OVERFLOW', layer: 'socket', component: 'accept-queue' }));
    for (let i = 0; i < 9; i++) b.add(tcp({ reason: 'NO_SOCKET', tcp_flags: 'PSH|ACK' }));
    for (let i = 0; i < 7; i++) b.add(tcp({ reason: 'NO_SOCKET', tcp_flags: 'RST|ACK', dport: 81 }));
    for (let i = 0; i < 2; i++) b.add(drop({}));
    const { findings } = b.result();
    expect(findings.map((f) => [f.rank, f.reason, f.count, f.follow_on !== null, f.follows])).toEqual([
      [1, 'TCP_LISTEN_OVERFLOW', 4, false, null],
      [2, 'NETFILTER_DROP', 2, false, null],
      [3, 'NO_SOCKET', 9, true, 1],
      [4, 'NO_SOCKET', 7, true, null],
    ]);
    const text = findingsText(findings, [], 5);
    expect(text).toMatch(/^droptrace explain: 5 s traced, 6 drops that matter, 16 follow-on, 0 benign\n/);
    expect(text).toContain('    then: NO_SOCKET ×9 (segment of a connection lost to TCP_LISTEN_OVERFLOW on :80)\n');
    expect(text).toContain(
      'follow-on drops (consequences of another loss, not causes):\n    web NO_SOCKET ×7 (reset of a connection already gone or never completed)\n',
    );
  });

  it('keeps segments to a port with no other cause as a cause (a restarted server, say)', () => {
    const b = new FindingsBuilder();
    for (let i = 0; i < 3; i++) b.add(tcp({ reason: 'NO_SOCKET', tcp_flags: 'PSH|ACK' }));
    expect(b.result().findings.map((f) => [f.rank, f.reason, f.follow_on])).toEqual([[1, 'NO_SOCKET', null]]);
  });
});

describe('connect() failures', () => {
  it('are listed even when no drop matters: a host out of source ports does not look healthy', () => {
    const b = new FindingsBuilder(() => 'web');
    for (let i = 0; i < 3; i++)
      b.add({
        type: 'connect_error',
        time: '2026-01-01T00:00:00.000000000Z',
        host: 'node-1',
        errno: 'EADDRNOTAVAIL',
        pid: 42,
        comm: 'curl',
        netns: 100,
        cgroup_id: null,
        family: 'ipv4',
        daddr: '10.0.0.2',
        dport: 80,
        port_range: [40000, 40003],
        hint: 'curl (pid 42) found no free local port to connect to 10.0.0.2:80 (ip_local_port_range 40000-40003: 4 ports): widen …',
        container: null,
        container_via: null,
      });
    const { findings, retransmits, connects } = b.result();
    expect(findings).toEqual([]);
    expect(findingsText(findings, retransmits, 5, undefined, connects)).toBe(
      [
        'droptrace explain: 5 s traced, 0 drops that matter, 0 benign',
        '  no drops found that are not normal operation, but connect() failed (below)',
        '',
        'connect() failures, no free local port (EADDRNOTAVAIL):',
        '    web: curl ×3 to 10.0.0.2:80',
        '    curl (pid 42) found no free local port to connect to 10.0.0.2:80 (ip_local_port_range 40000-40003: 4 ports): widen …',
        '',
      ].join('\n'),
    );
  });
});

function suppressed(over: Partial<SuppressedRecord>): SuppressedRecord {
  return {
    type: 'suppressed',
    time: '2026-01-01T00:00:02.000000000Z',
    host: 'node-1',
    event: 'drop',
    netns: 100,
    reason: 'NETFILTER_DROP',
    location: 'nft_do_chain+0x46f',
    count: 40,
    total: 40,
    rate_limit: 10,
    ...over,
  };
}

describe('FindingsBuilder and the rate limit', () => {
  it('adds what was held back to the finding of the same netns, reason and location', () => {
    const b = new FindingsBuilder();
    b.add(drop({}));
    b.add(drop({ location: 'nf_hook_slow+0x1f', component: 'conntrack' }));
    expect(b.addSuppressed(suppressed({}))).toBe(true);
    expect(b.addSuppressed(suppressed({ netns: 200 }))).toBe(false);
    b.addSuppressed(suppressed({ event: 'retransmit', reason: null, location: null, count: 7 }));
    const { findings, retransmits } = b.result();
    expect(findings.map((f) => [f.where, f.component, f.count])).toEqual([
      ['netns:100', 'nftables', 41],
      ['netns:200', null, 40],
      ['netns:100', 'conntrack', 1],
    ]);
    expect(retransmits).toEqual([{ where: 'netns:100', kinds: { 'rate-limited': 7 }, count: 7 }]);
  });

  it('a key whose events arrive after its suppressed record still folds into one finding', () => {
    const b = new FindingsBuilder();
    b.addSuppressed(suppressed({ count: 5 }));
    b.add(drop({}));
    expect(b.result().findings.map((f) => [f.component, f.count])).toEqual([['nftables', 6]]);
  });
});

describe('findingsText', () => {
  it('prints ranked findings with hint, evidence and an example packet', () => {
    const b = new FindingsBuilder(() => 'web');
    b.add(drop({ hint: 'dropped by iptables rule `-A INPUT -j DROP`', evidence: { rule: '-A INPUT -j DROP' } }));
    b.add(rtx);
    const { findings, retransmits } = b.result();
    expect(findingsText(findings, retransmits, 5)).toBe(
      [
        'droptrace explain: 5 s traced, 1 drops that matter, 0 benign',
        '',
        ' 1. web  netfilter/nftables  NETFILTER_DROP  ×1',
        '    dropped by iptables rule `-A INPUT -j DROP`',
        '    evidence: rule=-A INPUT -j DROP',
        '    e.g. udp 10.0.0.1:4000 > 10.0.0.2:80 at nft_do_chain+0x46f',
        '',
        'TCP retransmits:',
        '    web: 1 (rto 1)',
        '',
      ].join('\n'),
    );
  });
});
