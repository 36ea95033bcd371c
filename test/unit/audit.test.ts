import { describe, expect, it } from 'vitest';
import { Audit, auditText, parseNetCounters } from '../../src/audit/index.js';
import type { TraceEvent } from '../../src/events.js';
import { parseListenQueues } from '../../src/readers/listen-queues.js';
import { parsePortRange } from '../../src/readers/port-range.js';

const NETSTAT = `TcpExt: SyncookiesSent SyncookiesRecv ListenOverflows ListenDrops
TcpExt: 8 0 40 40
IpExt: InNoRoutes InTruncatedPkts
IpExt: 3 0
`;
const SNMP6 = `Ip6InReceives                   	12
Udp6NoPorts                     	5
`;

describe('parseNetCounters', () => {
  it('names counters as nstat does, from header/value line pairs and name/value lines', () => {
    const c = parseNetCounters(SNMP6, parseNetCounters(NETSTAT));
    expect(c).toEqual({
      TcpExtSyncookiesSent: 8,
      TcpExtSyncookiesRecv: 0,
      TcpExtListenOverflows: 40,
      TcpExtListenDrops: 40,
      IpExtInNoRoutes: 3,
      IpExtInTruncatedPkts: 0,
      Ip6InReceives: 12,
      Udp6NoPorts: 5,
    });
  });

  it('reads the receive and transmit drops of each device from /proc/net/dev', () => {
    const dev = [
      'Inter-|   Receive                                                |  Transmit',
      ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
      '    lo: 1812396    1282    0    0    0     0          0         0  1812396    1282    0    0    0     0       0          0',
      'vethA@x:  100 2 0 7 0 0 0 0  200 3 0 9 0 0 0 0',
      'eth0:  100 2 0 1 0 0 0 0  200 3 0 5 0 0 0 0',
    ].join('\n');
    expect(parseNetCounters(dev)).toEqual({
      'dev:lo:rx_dropped': 0,
      'dev:lo:tx_dropped': 0,
      'dev:vethA@x:rx_dropped': 7,
      'dev:vethA@x:tx_dropped': 9,
      'dev:eth0:rx_dropped': 1,
      'dev:eth0:tx_dropped': 5,
    });
  });

  it('skips what does not parse: mismatched pairs, junk names, non-numbers', () => {
    expect(parseNetCounters('TcpExt: A B\nTcpExt: 1\nIp: x\nOther: 1\n$$$ 3\nGood 4\nBad x\n')).toEqual({ Good: 4 });
  });
});

describe('Audit', () => {
  const counters = [
    { TcpExtListenOverflows: 10, TcpExtTCPReqQFullDrop: 0, UdpNoPorts: 0, TcpRetransSegs: 100 },
    { TcpExtListenOverflows: 50, TcpExtTCPReqQFullDrop: 3, UdpNoPorts: 0, TcpRetransSegs: 112 },
  ];
  it('holds each counter against the kernel-side drop and retransmit counts, per namespace and by how drops were seen', async () => {
    let reads = 0;
    const audit = new Audit(
      async () => counters[reads++],
      () => 'T',
    );
    expect(await audit.begin([7])).toEqual([]);
    await audit.finish();
    const records = audit.records(
      [
        { netns: 7, reason: 'TCP_LISTEN_OVERFLOW', location: 'tcp_v4_rcv+0x99', detected_by: 'kfree_skb', count: 6 },
        // SYNs refused at a full accept queue count; at a full SYN queue they are TCPReqQFullDrop's
        {
          netns: 7,
          reason: 'TCP_LISTEN_OVERFLOW',
          location: 'tcp_rcv_state_process+0x1a0',
          detected_by: 'syn_accept_queue_full',
          count: 4,
        },
        { netns: 7, reason: 'TCP_LISTEN_OVERFLOW', location: 'tcp_rcv_state_process+0x1a0', detected_by: 'syn_queue_full', count: 3 },
        { netns: 7, reason: 'NO_SOCKET', location: 'cookie_v4_check+0x5c2', detected_by: 'kfree_skb', count: 20 },
        { netns: 8, reason: 'TCP_LISTEN_OVERFLOW', location: 'tcp_v4_rcv+0x99', detected_by: 'kfree_skb', count: 99 },
      ],
      [
        { netns: 7, kind: 'rto', count: 2, segments: 10 },
        { netns: 7, kind: 'fast', count: 1, segments: 2 },
        { netns: 8, kind: 'rto', count: 1, segments: 50 },
      ],
      () => null,
    );
    expect(records.map((r) => [r.counter, r.delta, r.traced, r.untraced])).toEqual([
      ['TcpExtListenOverflows', 40, 30, 10],
      ['TcpExtTCPReqQFullDrop', 3, 3, 0],
      ['TcpRetransSegs', 12, 12, 0],
    ]);
    expect(auditText(records, () => 'web')).toBe(
      'audit: the kernel counted drops droptrace did not see: web TcpExtListenOverflows +40, 30 traced (10 missed; droptrace sees these as TCP_LISTEN_OVERFLOW drops (SYNs detected by syn_accept_queue_full) and NO_SOCKET at cookie_v4_check/cookie_v6_check)\n',
    );
    expect(auditText(records.slice(2), () => 'web')).toBe('audit: nothing was missed: TcpRetransSegs +12 = 12 traced\n');
  });

  it("holds a veth's tx_dropped against the drops noted on it, and leaves it out when counting only", async () => {
    const reads = [{ 'dev:veth1:tx_dropped': 2 }, { 'dev:veth1:tx_dropped': 5 }];
    const audit = new Audit(
      async () => reads.shift(),
      () => 'T',
    );
    await audit.begin([7]);
    const drop = { type: 'drop', netns: 7, ifname: 'veth1', location: '__dev_forward_skb2+0x1c' } as unknown as TraceEvent;
    audit.note(drop);
    audit.note(drop);
    await audit.finish();
    expect(audit.records([], [], () => null).map((r) => [r.counter, r.delta, r.traced, r.untraced])).toEqual([
      ['dev:veth1:tx_dropped', 3, 2, 1],
    ]);
    expect(audit.records([], [], () => null, false)).toEqual([]);
  });

  it('leaves out a namespace whose counters cannot be read, and says which', async () => {
    const audit = new Audit(
      async () => undefined,
      () => 'T',
    );
    expect(await audit.begin([5, 5])).toEqual([5]);
    expect(audit.namespaces).toEqual([]);
  });
});

describe('parsePortRange', () => {
  it.each([
    ['32768\t60999\n', [32768, 60999]],
    ['40000 40003', [40000, 40003]],
    ['0 10', null],
    ['60000 1000', null],
    ['1 2 3', null],
    ['', null],
  ] as const)('%j → %j', (text, range) => expect(parsePortRange(text)).toEqual(range));
});

describe('parseListenQueues', () => {
  it('sums the queues of every listener of a port (SO_REUSEPORT), v4 and v6', () => {
    const q = parseListenQueues(
      [
        'LISTEN 2      1      10.0.0.2:8080 0.0.0.0:*',
        'LISTEN 3 1 10.0.0.2:8080 0.0.0.0:*',
        'LISTEN 0 4096 [::]:80 [::]:*',
        'ESTAB 0 0 1.2.3.4:5 6.7.8.9:10',
        'junk',
      ].join('\n'),
    );
    expect([...q]).toEqual([
      [8080, { len: 5, limit: 2 }],
      [80, { len: 0, limit: 4096 }],
    ]);
  });
});
