/**
 * Real drops and retransmits, made inside a Lab. Each scenario sets up what it needs, sends
 * bounded traffic (done within ~3 s), undoes its set-up, and returns the facts a test asserts
 * on: the reason the kernel reports, which namespace carries the event, direction, addresses
 * and ports. Start the tracer before calling a scenario and stop it after it resolves.
 * Use a fresh Lab per scenario when you can: undoing set-up (iptables, tc) makes its own benign
 * QUEUE_PURGE drops, and TCP follow-on drops (TCP_INVALID_SYN, TCP_CLOSE, NO_SOCKET on teardown)
 * appear around the TCP scenarios.
 */
import { randomInt } from 'node:crypto';
import type { Direction, Peer, RetransmitKind } from '../../../src/events.js';
import type { Lab, Side } from './netns.js';
import { sleep, traffic, trafficBg } from './traffic.js';

export interface Flow {
  family: 'ipv4' | 'ipv6';
  proto: 'tcp' | 'udp';
  saddr: string;
  daddr: string;
  /** Every source port the scenario used (client ports are ephemeral, reported by the programs). */
  sports: number[];
  dports: number[];
}

export interface DropFacts extends Flow {
  type: 'drop';
  scenario: string;
  /** Kernel name without SKB_DROP_REASON_. */
  reason: string;
  /** Function names that the drop's location may be in (any one). */
  locations: string[];
  /** Which end carries the event, and that namespace's inode. */
  side: Side;
  netns: number;
  direction: Direction;
  /** The device on the skb at drop time when there is one (ifindex within `netns`). */
  ifname: string | null;
  ifindex: number | null;
  peer: Peer | null;
  /** Packets sent that could have been dropped, and how many drops at least to expect. */
  sent: number;
  minEvents: number;
}

export interface RetransmitFacts extends Flow {
  type: 'retransmit';
  scenario: string;
  kind: RetransmitKind;
  /** Kernel TCP state of the socket when it retransmits, as named by droptrace (TCP_ prefix dropped). */
  state: string;
  side: Side;
  netns: number;
  minEvents: number;
}

export type Facts = DropFacts | RetransmitFacts;

export interface FamilyOption {
  family?: 'ipv4' | 'ipv6';
}

/** UDP datagrams from a, bounded in count; the report names the source port the kernel chose. */
function udpSend(lab: Lab, o: { src: string; dst: string; dport: number; count: number; intervalMs?: number; size?: number }) {
  const args = ['udp-send', '--src', o.src, '--dst', o.dst, '--dport', String(o.dport), '--count', String(o.count)];
  if (o.intervalMs !== undefined) args.push('--interval-ms', String(o.intervalMs));
  if (o.size !== undefined) args.push('--size', String(o.size));
  return traffic(lab, 'a', args);
}

function port(): number {
  return randomInt(20000, 40000);
}

function addrs(lab: Lab, family: 'ipv4' | 'ipv6'): { a: string; b: string } {
  return family === 'ipv6' ? { a: lab.a.ipv6, b: lab.b.ipv6 } : { a: lab.a.ipv4, b: lab.b.ipv4 };
}

function iptables(family: 'ipv4' | 'ipv6'): string {
  return family === 'ipv6' ? 'ip6tables' : 'iptables';
}

function dropAt(
  lab: Lab,
  side: Side,
  f: Omit<DropFacts, 'type' | 'side' | 'netns' | 'ifname' | 'ifindex' | 'peer'> & Partial<Pick<DropFacts, 'ifname' | 'ifindex' | 'peer'>>,
): DropFacts {
  return {
    type: 'drop',
    side,
    netns: lab[side].inode,
    ifname: f.ifname ?? null,
    ifindex: f.ifindex ?? null,
    peer: f.peer ?? null,
    ...f,
  };
}

/** iptables INPUT DROP in b for one UDP port; datagrams from a. With `probability`, a statistic match. */
export async function netfilterDrop(lab: Lab, opts: FamilyOption & { probability?: number; count?: number } = {}): Promise<DropFacts> {
  const family = opts.family ?? 'ipv4';
  const count = opts.count ?? (opts.probability ? 100 : 20);
  const { a, b } = addrs(lab, family);
  const dport = port();
  const rule = ['INPUT', '-p', 'udp', '--dport', String(dport)];
  if (opts.probability) rule.push('-m', 'statistic', '--mode', 'random', '--probability', String(opts.probability));
  rule.push('-j', 'DROP');
  await lab.exec('b', iptables(family), ['-A', ...rule]);
  try {
    const r = await udpSend(lab, { src: a, dst: b, dport: dport, count, intervalMs: 10 });
    return dropAt(lab, 'b', {
      scenario: opts.probability ? 'netfilter-random' : 'netfilter',
      reason: 'NETFILTER_DROP',
      locations: ['nft_do_chain', 'nf_hook_slow'],
      direction: 'rx',
      family,
      proto: 'udp',
      saddr: a,
      daddr: b,
      sports: [r.sport],
      dports: [dport],
      ifname: lab.b.ifname,
      ifindex: lab.b.ifindex,
      sent: r.sent,
      // random 0.3 of 100: below 10 is about a 1-in-20000 event
      minEvents: opts.probability ? Math.max(1, Math.floor(count * opts.probability * 0.33)) : count,
    });
  } finally {
    await lab.exec('b', iptables(family), ['-D', ...rule], { allowFail: true });
  }
}

/** UDP datagrams from a to a port in b where nothing listens. */
export async function udpClosedPort(lab: Lab, opts: FamilyOption & { count?: number } = {}): Promise<DropFacts> {
  const family = opts.family ?? 'ipv4';
  const count = opts.count ?? 10;
  const { a, b } = addrs(lab, family);
  const dport = port();
  const r = await udpSend(lab, { src: a, dst: b, dport: dport, count, intervalMs: 10 });
  return dropAt(lab, 'b', {
    scenario: 'udp-closed-port',
    reason: 'NO_SOCKET',
    locations: family === 'ipv6' ? ['__udp6_lib_rcv'] : ['__udp4_lib_rcv'],
    direction: 'rx',
    family,
    proto: 'udp',
    saddr: a,
    daddr: b,
    sports: [r.sport],
    dports: [dport],
    ifname: lab.b.ifname,
    ifindex: lab.b.ifindex,
    sent: r.sent,
    minEvents: count,
  });
}

/** TCP connects from a to a closed port in b: b drops each SYN (NO_SOCKET) and answers RST. */
export async function tcpClosedPort(lab: Lab, opts: FamilyOption & { count?: number } = {}): Promise<DropFacts> {
  const family = opts.family ?? 'ipv4';
  const count = opts.count ?? 5;
  const { a, b } = addrs(lab, family);
  const dport = port();
  const r = await traffic(lab, 'a', ['tcp-connect', '--dst', b, '--dport', String(dport), '--count', String(count)]);
  if (!r.outcomes.every((o: string) => o === 'ECONNREFUSED')) {
    throw new Error(`tcp-closed-port: expected every connect refused, got ${r.outcomes}`);
  }
  return dropAt(lab, 'b', {
    scenario: 'tcp-closed-port',
    reason: 'NO_SOCKET',
    locations: family === 'ipv6' ? ['tcp_v6_rcv'] : ['tcp_v4_rcv'],
    direction: 'rx',
    family,
    proto: 'tcp',
    saddr: a,
    daddr: b,
    sports: r.sports,
    dports: [dport],
    ifname: lab.b.ifname,
    ifindex: lab.b.ifindex,
    sent: count,
    minEvents: count,
  });
}

/** A UDP socket in b with the smallest receive buffer that never reads, flooded from a. */
export async function udpRcvbuf(lab: Lab, opts: { count?: number } = {}): Promise<DropFacts> {
  const count = opts.count ?? 200;
  const dport = port();
  const sink = await trafficBg(lab, 'b', ['udp-sink', '--bind', lab.b.ipv4, '--port', String(dport), '--rcvbuf', '1']);
  try {
    const r = await udpSend(lab, { src: lab.a.ipv4, dst: lab.b.ipv4, dport: dport, count, size: 1000 });
    return dropAt(lab, 'b', {
      scenario: 'udp-rcvbuf',
      reason: 'SOCKET_RCVBUFF',
      locations: ['udp_queue_rcv_one_skb', '__udp_enqueue_schedule_skb'],
      direction: 'rx',
      family: 'ipv4',
      proto: 'udp',
      saddr: lab.a.ipv4,
      daddr: lab.b.ipv4,
      sports: [r.sport],
      dports: [dport],
      ifname: lab.b.ifname,
      ifindex: lab.b.ifindex,
      sent: r.sent,
      // the minimum buffer (2304 bytes, doubled) holds a few datagrams of 1000 bytes
      minEvents: count - 10,
    });
  } finally {
    await sink.finish().catch(() => undefined);
  }
}

/** tbf on a's veth with a 3000-byte limit, flooded with UDP from a: the sender's qdisc drops. */
export async function qdiscDrop(lab: Lab, opts: { count?: number } = {}): Promise<DropFacts> {
  const count = opts.count ?? 200;
  const dport = port();
  const tbf = ['qdisc', 'add', 'dev', lab.a.ifname, 'root', 'tbf', 'rate', '1mbit', 'burst', '1600', 'limit', '3000'];
  await lab.exec('a', 'tc', tbf);
  try {
    const r = await udpSend(lab, { src: lab.a.ipv4, dst: lab.b.ipv4, dport: dport, count, size: 1000 });
    return dropAt(lab, 'a', {
      scenario: 'qdisc-tbf',
      reason: 'QDISC_DROP',
      locations: ['__dev_queue_xmit', 'tbf_enqueue'],
      direction: 'tx',
      family: 'ipv4',
      proto: 'udp',
      saddr: lab.a.ipv4,
      daddr: lab.b.ipv4,
      sports: [r.sport],
      dports: [dport],
      ifname: lab.a.ifname,
      ifindex: lab.a.ifindex,
      sent: r.sent,
      // 1 mbit/s drains ~125 bytes/ms, the limit holds 2 datagrams: nearly all of a burst drops
      minEvents: Math.floor(count / 2),
    });
  } finally {
    await lab.exec('a', 'tc', ['qdisc', 'del', 'dev', lab.a.ifname, 'root'], { allowFail: true });
  }
}

/**
 * MTU 100 on b's veth, HTTP server in b, GETs of 400 bytes from a. The clients connect first
 * (MSS 1460 agreed), then b's MTU drops to 100, then the GETs go: each is too big for b's device and is freed in veth's transmit (__dev_forward_skb2) while the skb still
 * belongs to a's device: the drop is carried by the SENDER's namespace (a), its peer is b's veth.
 */
export async function mtuDrop(lab: Lab, opts: { count?: number } = {}): Promise<DropFacts> {
  const count = opts.count ?? 3;
  const dport = port();
  const mtu = 100;
  const server = await trafficBg(lab, 'b', ['http-server', '--bind', lab.b.ipv4, '--port', String(dport)]);
  try {
    const clients = await trafficBg(lab, 'a', [
      'http-get',
      '--dst',
      lab.b.ipv4,
      '--dport',
      String(dport),
      '--count',
      String(count),
      '--size',
      '400',
      '--timeout',
      '1.5',
      '--hold',
    ]);
    // after the handshakes: with MTU 100 in place first, b would advertise a tiny MSS and the GETs would fit
    await lab.ip('b', ['link', 'set', 'dev', lab.b.ifname, 'mtu', String(mtu)]);
    const r = await clients.finish();
    return dropAt(lab, 'a', {
      scenario: 'mtu',
      reason: 'NOT_SPECIFIED',
      locations: ['__dev_forward_skb2', '__dev_forward_skb', 'veth_xmit'],
      direction: 'tx',
      family: 'ipv4',
      proto: 'tcp',
      saddr: lab.a.ipv4,
      daddr: lab.b.ipv4,
      sports: r.sports,
      dports: [dport],
      ifname: lab.a.ifname,
      ifindex: lab.a.ifindex,
      peer: { ifindex: lab.b.ifindex, ifname: lab.b.ifname, mtu, netns: lab.b.inode },
      sent: count,
      minEvents: count,
    });
  } finally {
    await lab.ip('b', ['link', 'set', 'dev', lab.b.ifname, 'mtu', String(lab.b.mtu)]).catch(() => undefined);
    // below 1280 the kernel removed b's IPv6 addresses: put ours back
    await lab.ip('b', ['-6', 'addr', 'replace', `${lab.b.ipv6}/64`, 'dev', lab.b.ifname, 'nodad']).catch(() => undefined);
    await server.finish().catch(() => undefined);
  }
}

/**
 * Accept queue full when the handshake completes. A listener in b with backlog 1 that never
 * accepts and sets TCP_DEFER_ACCEPT: the bare 3rd ACKs are ignored, so no child joins the accept
 * queue at SYN time and every SYN gets its SYN-ACK (a request socket or a syncookie). When the
 * clients' first data segments arrive, the first two children fill the queue (backlog + 1) and
 * every later one is dropped as TCP_LISTEN_OVERFLOW in b; the clients' retransmissions of that
 * data are dropped the same way. (With a plain listener the queue fills at SYN time, where the
 * kernel frees the SYN without a drop reason.)
 */
export async function listenOverflow(lab: Lab, opts: { clients?: number } = {}): Promise<DropFacts> {
  const clients = opts.clients ?? 8;
  const dport = port();
  await lab.exec('b', 'sysctl', ['-qw', 'net.ipv4.tcp_syncookies=1', 'net.ipv4.tcp_abort_on_overflow=0']);
  const listener = await trafficBg(lab, 'b', [
    'tcp-listen',
    '--bind',
    lab.b.ipv4,
    '--port',
    String(dport),
    '--backlog',
    '1',
    '--defer-accept',
    '5',
  ]);
  try {
    const conn = await trafficBg(lab, 'a', [
      'tcp-connect',
      '--dst',
      lab.b.ipv4,
      '--dport',
      String(dport),
      '--count',
      String(clients),
      '--interval-ms',
      '5',
      '--timeout',
      '0.5',
      '--send',
      '100',
      '--hold',
    ]);
    // hold the clients while their data is retransmitted into the full queue (RTO ~0.2 s, 0.6 s)
    await sleep(1200);
    const r = await conn.finish();
    const connected = r.outcomes.filter((o: string) => o === 'connected').length;
    if (connected < 3) throw new Error(`listen-overflow: only ${connected} of ${clients} clients connected`);
    return dropAt(lab, 'b', {
      scenario: 'listen-overflow',
      reason: 'TCP_LISTEN_OVERFLOW',
      locations: ['tcp_v4_rcv'],
      direction: 'rx',
      family: 'ipv4',
      proto: 'tcp',
      saddr: lab.a.ipv4,
      daddr: lab.b.ipv4,
      sports: r.sports,
      dports: [dport],
      ifname: lab.b.ifname,
      ifindex: lab.b.ifindex,
      sent: connected,
      minEvents: connected - 2,
    });
  } finally {
    await listener.finish().catch(() => undefined);
  }
}

/** nft rules in b, in a table of the lab's own, removed afterwards. */
async function nftIn(lab: Lab, side: Side, rules: string[]): Promise<() => Promise<void>> {
  const table = `dtlab${lab.id}`;
  const text = [
    `table inet ${table} {`,
    '  chain input {',
    '    type filter hook input priority 0;',
    ...rules.map((r) => `    ${r}`),
    '  }',
    '}',
    '',
  ].join('\n');
  await lab.exec(side, 'nft', ['-f', '-'], { input: text });
  return async () => {
    await lab.exec(side, 'nft', ['delete', 'table', 'inet', table], { allowFail: true });
  };
}

async function acceptingServer(lab: Lab, dport: number) {
  return trafficBg(lab, 'b', ['tcp-listen', '--bind', lab.b.ipv4, '--port', String(dport), '--accept']);
}

/**
 * RTO: a TCP connection a→b is established, then b drops everything to its port (INPUT) while
 * a keeps writing: a retransmits on its timer (~0.2, 0.6, 1.4 s; the first may be a tail-loss
 * probe). Several connections make enough events in ~2 s.
 */
export async function retransmitRto(lab: Lab, opts: { connections?: number } = {}): Promise<RetransmitFacts> {
  const connections = opts.connections ?? 3;
  const dport = port();
  const server = await acceptingServer(lab, dport);
  let undo: (() => Promise<void>) | undefined;
  try {
    const streams = [];
    for (let i = 0; i < connections; i++) {
      streams.push(
        await trafficBg(lab, 'a', [
          'tcp-stream',
          '--dst',
          lab.b.ipv4,
          '--dport',
          String(dport),
          '--writes',
          '5',
          '--chunk',
          '1000',
          '--interval-ms',
          '20',
          '--linger',
          '1.5',
        ]),
      );
    }
    undo = await nftIn(lab, 'b', [`tcp dport ${dport} drop`]);
    const reports = await Promise.all(streams.map((s) => s.finish()));
    return {
      type: 'retransmit',
      scenario: 'retransmit-rto',
      kind: 'rto',
      state: 'ESTABLISHED',
      side: 'a',
      netns: lab.a.inode,
      family: 'ipv4',
      proto: 'tcp',
      saddr: lab.a.ipv4,
      daddr: lab.b.ipv4,
      sports: reports.map((r) => r.sport),
      dports: [dport],
      minEvents: connections * 2,
    };
  } finally {
    await undo?.();
    await server.finish().catch(() => undefined);
  }
}

/**
 * Fast retransmit: b drops every 30th data segment of one stream (nft numgen; SACK on, the
 * default), so the segments after it bring SACKs and a retransmits in Recovery.
 */
export async function retransmitFast(lab: Lab): Promise<RetransmitFacts> {
  const dport = port();
  const server = await acceptingServer(lab, dport);
  const undo = await nftIn(lab, 'b', [`tcp dport ${dport} meta length 500-65535 numgen inc mod 30 == 14 drop`]);
  try {
    await lab.exec('a', 'sysctl', ['-qw', 'net.ipv4.tcp_sack=1']);
    const stream = await trafficBg(lab, 'a', [
      'tcp-stream',
      '--dst',
      lab.b.ipv4,
      '--dport',
      String(dport),
      '--writes',
      '100',
      '--chunk',
      '1000',
      '--interval-ms',
      '2',
      '--linger',
      '0.5',
    ]);
    const r = await stream.finish();
    return {
      type: 'retransmit',
      scenario: 'retransmit-fast',
      kind: 'fast',
      state: 'ESTABLISHED',
      side: 'a',
      netns: lab.a.inode,
      family: 'ipv4',
      proto: 'tcp',
      saddr: lab.a.ipv4,
      daddr: lab.b.ipv4,
      sports: [r.sport],
      dports: [dport],
      minEvents: 2,
    };
  } finally {
    await undo();
    await server.finish().catch(() => undefined);
  }
}

/** SYN retransmits: b drops SYNs to a port; a's parallel connects retransmit after 1 s (and 3 s). */
export async function retransmitSyn(lab: Lab, opts: { clients?: number } = {}): Promise<RetransmitFacts> {
  const clients = opts.clients ?? 5;
  const dport = port();
  const undo = await nftIn(lab, 'b', [`tcp dport ${dport} tcp flags syn drop`]);
  try {
    const r = await traffic(lab, 'a', [
      'tcp-connect',
      '--dst',
      lab.b.ipv4,
      '--dport',
      String(dport),
      '--count',
      String(clients),
      '--timeout',
      '1.6',
    ]);
    return {
      type: 'retransmit',
      scenario: 'retransmit-syn',
      kind: 'syn',
      state: 'SYN_SENT',
      side: 'a',
      netns: lab.a.inode,
      family: 'ipv4',
      proto: 'tcp',
      saddr: lab.a.ipv4,
      daddr: lab.b.ipv4,
      sports: r.sports,
      dports: [dport],
      minEvents: clients,
    };
  } finally {
    await undo();
  }
}

/**
 * SYN-ACK retransmits: b drops everything but SYNs to its listener, so the 3rd ACKs never arrive
 * and b's request sockets retransmit their SYN-ACKs after 1 s. The clients stay idle.
 */
export async function retransmitSynack(lab: Lab, opts: { clients?: number } = {}): Promise<RetransmitFacts> {
  const clients = opts.clients ?? 5;
  const dport = port();
  const server = await acceptingServer(lab, dport);
  const undo = await nftIn(lab, 'b', [`tcp dport ${dport} tcp flags & syn == 0 drop`]);
  try {
    const conn = await trafficBg(lab, 'a', [
      'tcp-connect',
      '--dst',
      lab.b.ipv4,
      '--dport',
      String(dport),
      '--count',
      String(clients),
      '--timeout',
      '1',
      '--hold',
    ]);
    await sleep(1500);
    const r = await conn.finish();
    return {
      type: 'retransmit',
      scenario: 'retransmit-synack',
      kind: 'synack',
      state: 'SYN_RECV',
      side: 'b',
      netns: lab.b.inode,
      family: 'ipv4',
      proto: 'tcp',
      saddr: lab.b.ipv4,
      daddr: lab.a.ipv4,
      sports: [dport],
      dports: r.sports,
      minEvents: clients,
    };
  } finally {
    await undo();
    await server.finish().catch(() => undefined);
  }
}

/**
 * Reverse-path filter: a sends from an address of its own (on lo) that b has no route back to;
 * b has rp_filter=1 (strict). A permanent neighbour entry in a lets a send without ARP (b would
 * refuse ARP from that source too).
 */
export async function rpFilter(lab: Lab, opts: { count?: number } = {}): Promise<DropFacts> {
  const count = opts.count ?? 10;
  const dport = port();
  const [o1, o2, o3] = lab.a.ipv4.split('.');
  const spoof = `${o1}.${o2}.${(Number(o3) + 1) % 256}.1`;
  await lab.ip('a', ['addr', 'add', `${spoof}/32`, 'dev', 'lo']);
  await lab.ip('a', ['neigh', 'replace', lab.b.ipv4, 'lladdr', lab.b.mac, 'dev', lab.a.ifname, 'nud', 'permanent']);
  await lab.exec('b', 'sysctl', ['-qw', 'net.ipv4.conf.all.rp_filter=1', `net.ipv4.conf.${lab.b.ifname}.rp_filter=1`]);
  try {
    const r = await udpSend(lab, { src: spoof, dst: lab.b.ipv4, dport: dport, count, intervalMs: 10 });
    return dropAt(lab, 'b', {
      scenario: 'rp-filter',
      reason: 'IP_RPFILTER',
      locations: ['ip_rcv_finish_core'],
      direction: 'rx',
      family: 'ipv4',
      proto: 'udp',
      saddr: spoof,
      daddr: lab.b.ipv4,
      sports: [r.sport],
      dports: [dport],
      ifname: lab.b.ifname,
      ifindex: lab.b.ifindex,
      sent: r.sent,
      minEvents: count,
    });
  } finally {
    await lab.exec('b', 'sysctl', ['-qw', 'net.ipv4.conf.all.rp_filter=0', `net.ipv4.conf.${lab.b.ifname}.rp_filter=0`]);
    await lab.ip('a', ['neigh', 'del', lab.b.ipv4, 'dev', lab.a.ifname]).catch(() => undefined);
    await lab.ip('a', ['addr', 'del', `${spoof}/32`, 'dev', 'lo']).catch(() => undefined);
  }
}

/**
 * No route in b: a routes a foreign network via b and sends to it. With forwarding off in b the
 * kernel counts it as an address error (IP_INADDRERRORS); with forwarding on and no route it is
 * IP_INNOROUTES. Both at ip_error, in b.
 */
export async function noRoute(lab: Lab, opts: { forwarding?: boolean; count?: number } = {}): Promise<DropFacts> {
  const count = opts.count ?? 10;
  const forwarding = opts.forwarding ?? false;
  const dport = port();
  const [o1, o2, o3] = lab.a.ipv4.split('.');
  const foreignNet = `${o1}.${o2}.${(Number(o3) + 2) % 256}.0/24`;
  const foreign = `${o1}.${o2}.${(Number(o3) + 2) % 256}.9`;
  await lab.ip('a', ['route', 'add', foreignNet, 'via', lab.b.ipv4]);
  await lab.exec('b', 'sysctl', ['-qw', `net.ipv4.conf.all.forwarding=${forwarding ? 1 : 0}`]);
  try {
    const r = await udpSend(lab, { src: lab.a.ipv4, dst: foreign, dport: dport, count, intervalMs: 10 });
    return dropAt(lab, 'b', {
      scenario: forwarding ? 'no-route-forwarding' : 'no-route',
      reason: forwarding ? 'IP_INNOROUTES' : 'IP_INADDRERRORS',
      locations: ['ip_error'],
      direction: 'rx',
      family: 'ipv4',
      proto: 'udp',
      saddr: lab.a.ipv4,
      daddr: foreign,
      sports: [r.sport],
      dports: [dport],
      ifname: lab.b.ifname,
      ifindex: lab.b.ifindex,
      sent: r.sent,
      minEvents: count,
    });
  } finally {
    await lab.exec('b', 'sysctl', ['-qw', 'net.ipv4.conf.all.forwarding=0']);
    await lab.ip('a', ['route', 'del', foreignNet]).catch(() => undefined);
  }
}

/** Every scenario by name, for table-driven tests. */
export const SCENARIOS: Record<string, (lab: Lab) => Promise<Facts>> = {
  netfilter: (lab) => netfilterDrop(lab),
  'netfilter-random': (lab) => netfilterDrop(lab, { probability: 0.3 }),
  'netfilter-ipv6': (lab) => netfilterDrop(lab, { family: 'ipv6' }),
  'udp-closed-port': (lab) => udpClosedPort(lab),
  'udp-closed-port-ipv6': (lab) => udpClosedPort(lab, { family: 'ipv6' }),
  'tcp-closed-port': (lab) => tcpClosedPort(lab),
  'tcp-closed-port-ipv6': (lab) => tcpClosedPort(lab, { family: 'ipv6' }),
  'udp-rcvbuf': (lab) => udpRcvbuf(lab),
  'qdisc-tbf': (lab) => qdiscDrop(lab),
  mtu: (lab) => mtuDrop(lab),
  'listen-overflow': (lab) => listenOverflow(lab),
  'rp-filter': (lab) => rpFilter(lab),
  'no-route': (lab) => noRoute(lab),
  'no-route-forwarding': (lab) => noRoute(lab, { forwarding: true }),
  'retransmit-rto': (lab) => retransmitRto(lab),
  'retransmit-fast': (lab) => retransmitFast(lab),
  'retransmit-syn': (lab) => retransmitSyn(lab),
  'retransmit-synack': (lab) => retransmitSynack(lab),
};
