/**
 * A full accept queue, judged by the kernel's ListenOverflows counter: a listener with backlog 1
 * that never accepts, and more clients than fit. With SYN cookies in use (the default) most
 * handshakes that overflow are freed as NO_SOCKET at cookie_v4_check/cookie_v6_check, with the
 * listener as the socket: they must read as an accept-queue overflow, never as a closed port.
 */
import { randomInt } from 'node:crypto';
import { cpus } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import type { DropRecord } from '../../src/events.js';
import { attachedTracepoints } from '../helpers/bpf-links.js';
import { DroptraceRun } from '../helpers/droptrace-cli.js';
import { SKIP_KERNEL } from '../helpers/kernel-env.js';
import { sample } from '../helpers/samples.js';
import { type Counters, delta, nstat, sysctls } from './lab/counters.js';
import { Lab } from './lab/netns.js';
import { sleep, trafficBg } from './lab/traffic.js';

const labs: Lab[] = [];
const runs: DroptraceRun[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) r.kill();
  for (const l of labs.splice(0)) await l.destroy();
});

const OVERFLOW_COUNTERS = ['TcpExtListenOverflows', 'TcpExtListenDrops', 'TcpExtSyncookiesSent', 'TcpExtTCPReqQFullDrop'];

interface Overflow {
  port: number;
  counters: Counters;
  drops: DropRecord[];
}

/**
 * backlog-1 listener in b that never accepts; `clients` connects from a that each send 100 bytes.
 * `atAck`: a drops its own bare third ACKs (nft OUTPUT), so every SYN of the burst arrives while no
 * handshake has completed: the first makes a request socket (the SYN queue of a backlog-1 listener
 * is then full), the rest get SYN cookies, and the clients' data segments then complete the
 * handshakes into an accept queue that fills after two (cookie path, or the request-socket path and
 * TCPReqQFullDrop without cookies). Without it the handshakes complete one by one and the queue is
 * full when later SYNs arrive.
 */
async function overflow(
  family: 'ipv4' | 'ipv6',
  syncookies: 0 | 1,
  o: { atAck?: boolean; clients?: number; reuseport?: number } = {},
): Promise<Overflow> {
  const clients = o.clients ?? 10;
  const lab = await Lab.create('dtau');
  labs.push(lab);
  const dst = family === 'ipv6' ? lab.b.ipv6 : lab.b.ipv4;
  const restore = await sysctls(lab, 'b', { 'net.ipv4.tcp_syncookies': String(syncookies), 'net.ipv4.tcp_abort_on_overflow': '0' });
  // from the start: every refusal is then traced, and the counts are exact (the default, auto,
  // attaches on the first rise of ListenDrops: the test below)
  const run = await DroptraceRun.start(['--json', '--all', '--listen-syn', 'always', '--netns', lab.a.ns, '--netns', lab.b.ns]);
  runs.push(run);
  const port = randomInt(20000, 40000);
  try {
    const listener = await trafficBg(lab, 'b', [
      'tcp-listen',
      '--bind',
      dst,
      '--port',
      String(port),
      '--backlog',
      '1',
      '--reuseport',
      String(o.reuseport ?? 1),
    ]);
    if (o.atAck) {
      const t = `dtau${lab.id}`;
      await lab.exec('a', 'nft', ['-f', '-'], {
        input: `table inet ${t} {\n chain out {\n  type filter hook output priority 0;\n  tcp dport ${port} tcp flags == ack drop\n }\n}\n`,
      });
    }
    const before = await nstat(lab, 'b');
    const conn = await trafficBg(lab, 'a', [
      'tcp-connect',
      '--dst',
      dst,
      '--dport',
      String(port),
      '--count',
      String(clients),
      '--interval-ms',
      o.atAck ? '0' : '5',
      '--timeout',
      '1.5',
      '--send',
      '100',
      '--hold',
    ]);
    // data retransmits into the full queue (RTO ~0.2, 0.6 s) and SYN retransmits (1 s) land meanwhile
    await sleep(1500);
    await conn.finish();
    await sleep(300);
    const after = await nstat(lab, 'b');
    await listener.finish();
    expect(await run.stop()).toBe(0);
    const drops = run.drops().filter((d) => d.netns === lab.b.inode && (d.dport === port || d.sport === port));
    return { port, counters: delta(before, after, OVERFLOW_COUNTERS), drops };
  } finally {
    await restore();
  }
}

const fn = (location: string) => location.replace(/\+0x[0-9a-f]+.*$/, '');

/** Every overflow the kernel counted is one drop, on whichever path: ListenOverflows and TCPReqQFullDrop, exactly. */
function expectExact(o: Overflow): void {
  const accept = o.drops.filter(
    (d) =>
      (d.reason === 'TCP_LISTEN_OVERFLOW' && d.detected_by !== 'syn_queue_full' && d.detected_by !== 'syn_listen_drop') ||
      (d.reason === 'NO_SOCKET' && /^cookie_v[46]_check$/.test(fn(d.location))),
  );
  const synQueue = o.drops.filter((d) => d.detected_by === 'syn_queue_full');
  const seen = JSON.stringify({ counters: o.counters, drops: o.drops.map((d) => [d.reason, d.location, d.detected_by]) });
  expect(accept.length, seen).toBe(o.counters.TcpExtListenOverflows);
  expect(synQueue.length, seen).toBe(o.counters.TcpExtTCPReqQFullDrop);
  expect(o.drops.filter((d) => /closed port/.test(d.hint ?? ''))).toEqual([]);
}

describe.skipIf(SKIP_KERNEL)('a full accept queue is an accept-queue overflow, never a closed port', () => {
  it.each([
    ['ipv4', 1, 'cookie_v4_check'],
    ['ipv6', 1, 'cookie_v6_check'],
  ] as const)('%s, syncookies=%s: the ACKs dropped at %s name the full queue', async (family, cookies, where) => {
    const o = await overflow(family, cookies, { atAck: true });
    expect(o.counters.TcpExtListenOverflows, JSON.stringify(o.counters)).toBeGreaterThan(0);
    expectExact(o);
    expect(o.counters.TcpExtSyncookiesSent).toBeGreaterThan(0);
    const cookieDrops = o.drops.filter((d) => d.reason === 'NO_SOCKET' && fn(d.location) === where);
    expect(cookieDrops.length, JSON.stringify(o.drops.map((d) => [d.reason, d.location]))).toBeGreaterThan(0);
    for (const d of cookieDrops) {
      expect({ layer: d.layer, component: d.component, benign: d.benign }).toEqual({
        layer: 'socket',
        component: 'accept-queue',
        benign: false,
      });
      expect(d.hint).toMatch(new RegExp(`^accept queue of :${o.port} full \\(\\d+/1\\): the handshake completed with a SYN cookie`));
      expect(d.evidence.queue_limit).toBe(1);
    }
    expect(o.drops.filter((d) => /closed port/.test(d.hint ?? ''))).toEqual([]);
    sample(
      `listen overflow ${family} syncookies=${cookies}`,
      `${JSON.stringify(o.counters)} cookie-path drops ${cookieDrops.length}: ${cookieDrops[0].layer}/${cookieDrops[0].component}: ${cookieDrops[0].hint}`,
    );
  });

  it('syncookies=0: the ACKs are TCP_LISTEN_OVERFLOW on the request-socket path, none a closed port', async () => {
    const o = await overflow('ipv4', 0, { atAck: true });
    expect(o.counters.TcpExtListenOverflows, JSON.stringify(o.counters)).toBeGreaterThan(0);
    expect(o.counters.TcpExtSyncookiesSent).toBe(0);
    // the burst's SYNs after the first found the SYN queue full: refused at SYN time, no cookie
    expect(o.counters.TcpExtTCPReqQFullDrop).toBeGreaterThan(0);
    expectExact(o);
    const syn = o.drops.find((d) => d.detected_by === 'syn_queue_full') as DropRecord;
    expect({ layer: syn.layer, component: syn.component }).toEqual({ layer: 'socket', component: 'syn-queue' });
    expect(syn.hint).toMatch(new RegExp(`^SYN to :${o.port} dropped: SYN queue full and SYN cookies off`));
    expect(o.drops.filter((d) => /closed port/.test(d.hint ?? ''))).toEqual([]);
    expect(o.drops.filter((d) => d.reason === 'NO_SOCKET')).toEqual([]);
  });

  it.each([
    ['ipv4', 1, 1],
    ['ipv4', 0, 1],
    ['ipv6', 1, 1],
    ['ipv4', 1, 2],
    ['ipv6', 0, 2],
  ] as const)(
    'queue full at SYN time (%s, syncookies=%s, %s SO_REUSEPORT listener(s)): one drop per ListenOverflows, with the hint',
    async (family, cookies, reuseport) => {
      const o = await overflow(family, cookies, { reuseport });
      expect(o.counters.TcpExtListenOverflows, JSON.stringify(o.counters)).toBeGreaterThan(0);
      expectExact(o);
      const syn = o.drops.filter((d) => d.detected_by === 'syn_accept_queue_full');
      expect(syn.length).toBeGreaterThan(0);
      for (const d of syn) {
        expect({
          reason: d.reason,
          layer: d.layer,
          component: d.component,
          benign: d.benign,
          tcp_flags: d.tcp_flags,
          dport: d.dport,
        }).toEqual({
          reason: 'TCP_LISTEN_OVERFLOW',
          layer: 'socket',
          component: 'accept-queue',
          benign: false,
          tcp_flags: 'SYN',
          dport: o.port,
        });
        expect(d.hint).toMatch(
          new RegExp(
            `^SYN to :${o.port} dropped: accept queue full( \\(\\d+/\\d+\\))?, the client retries in 1 s, 3 s, …; .*nginx \`listen … backlog=\`, and net.core.somaxconn`,
          ),
        );
      }
      sample(
        `listen overflow at SYN ${family} cookies=${cookies} reuseport=${reuseport}`,
        `${JSON.stringify(o.counters)} SYN-path drops ${syn.length}: ${syn[0].hint} in ${syn[0].container?.name}`,
      );
    },
  );
});

describe.skipIf(SKIP_KERNEL)('--listen-syn auto (the default): the SYN program runs only while listeners refuse', () => {
  it('is not attached until a traced listener refuses; then refused SYNs are traced, and the audit counts what came before', async () => {
    const lab = await Lab.create('dtas');
    labs.push(lab);
    const restore = await sysctls(lab, 'b', { 'net.ipv4.tcp_syncookies': '1', 'net.ipv4.tcp_abort_on_overflow': '0' });
    try {
      const run = await DroptraceRun.start(['--json', '--all', '--netns', lab.a.ns, '--netns', lab.b.ns]);
      runs.push(run);
      const pid = run.child.pid as number;
      expect(attachedTracepoints(pid)).toContain('kfree_skb');
      expect(attachedTracepoints(pid)).not.toContain('consume_skb');
      const burst = async (port: number) => {
        const listener = await trafficBg(lab, 'b', ['tcp-listen', '--bind', lab.b.ipv4, '--port', String(port), '--backlog', '1']);
        const conn = await trafficBg(lab, 'a', [
          ...['tcp-connect', '--dst', lab.b.ipv4, '--dport', String(port), '--count', '10'],
          ...['--interval-ms', '5', '--timeout', '1.5', '--send', '100', '--hold'],
        ]);
        return { listener, conn };
      };
      const first = await burst(randomInt(20000, 30000));
      // the watch reads ListenDrops every second: attached within a couple of readings
      for (let i = 0; i < 50 && !/are refusing connections/.test(run.stderr); i++) await sleep(100);
      expect(run.stderr).toMatch(/listeners in \S+ are refusing connections \(TcpExtListenDrops rose\)/);
      expect(attachedTracepoints(pid)).toContain('consume_skb');
      await first.conn.finish();
      await first.listener.finish();

      const port = randomInt(30000, 40000);
      const before = await nstat(lab, 'b');
      const second = await burst(port);
      await sleep(1500);
      await second.conn.finish();
      await sleep(300);
      const after = await nstat(lab, 'b');
      await second.listener.finish();
      expect(await run.stop()).toBe(0);

      const counters = delta(before, after, OVERFLOW_COUNTERS);
      const drops = run.drops().filter((d) => d.netns === lab.b.inode && d.dport === port);
      const refused = drops.filter(
        (d) =>
          (d.reason === 'TCP_LISTEN_OVERFLOW' && d.detected_by !== 'syn_queue_full' && d.detected_by !== 'syn_listen_drop') ||
          (d.reason === 'NO_SOCKET' && /^cookie_v[46]_check$/.test(fn(d.location))),
      );
      const seen = JSON.stringify({ counters, drops: drops.map((d) => [d.reason, d.location, d.detected_by]) });
      expect(counters.TcpExtListenOverflows, seen).toBeGreaterThan(0);
      expect(drops.filter((d) => d.detected_by === 'syn_accept_queue_full').length, seen).toBeGreaterThan(0);
      // while attached, each refusal is one drop; only the first SYN of the namespace on each CPU
      // after attaching can go unjudged (it sets that CPU's baseline)
      expect(refused.length, seen).toBeLessThanOrEqual(counters.TcpExtListenOverflows);
      expect(refused.length, seen).toBeGreaterThanOrEqual(counters.TcpExtListenOverflows - cpus().length);
      // over the whole run, what was refused before the program was attached is in the audit
      const audit = run.records().find((r) => r.type === 'audit' && r.netns === lab.b.inode && r.counter === 'TcpExtListenOverflows');
      expect(audit, run.stdout.slice(-2000)).toBeDefined();
      if (audit?.type === 'audit') {
        expect(audit.untraced, JSON.stringify(audit)).toBeGreaterThan(0);
        expect(audit.traced + audit.untraced).toBe(audit.delta);
      }
    } finally {
      await restore();
    }
  });
});
