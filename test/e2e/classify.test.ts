/**
 * End to end: each real drop gets its stack layer, component, a hint that names the actual
 * numbers (MTU, queue limit, buffer size, the rule), and `benign` where it is normal operation.
 */
import { randomInt } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { DropRecord } from '../../src/events.js';
import { DroptraceRun } from '../helpers/droptrace-cli.js';
import { SKIP_KERNEL } from '../helpers/kernel-env.js';
import { sample } from '../helpers/samples.js';
import { Lab } from './lab/netns.js';
import { type DropFacts, SCENARIOS } from './lab/scenarios.js';
import { traffic, trafficBg } from './lab/traffic.js';

const labs: Lab[] = [];
const runs: DroptraceRun[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) r.kill();
  for (const l of labs.splice(0)) await l.destroy();
});

async function setUp(): Promise<{ lab: Lab; run: DroptraceRun }> {
  const lab = await Lab.create('dtclass');
  labs.push(lab);
  const run = await DroptraceRun.start(['--json', '--all', '--netns', lab.a.ns, '--netns', lab.b.ns]);
  runs.push(run);
  return { lab, run };
}

const fn = (location: string) => location.replace(/\+0x[0-9a-f]+$/, '');
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

interface Expectation {
  layer: string;
  component: string;
  /** The hint, from the scenario's own facts; `extra` adds a predicate a record must meet (e.g. rule evidence read). */
  hint: (f: DropFacts, lab: Lab) => RegExp;
  extra?: (d: DropRecord) => boolean;
  evidence?: (f: DropFacts, d: DropRecord) => void;
}

const CASES: Record<string, Expectation> = {
  'netfilter-random': {
    layer: 'netfilter',
    component: 'iptables',
    hint: (f) =>
      new RegExp(
        `^dropped by iptables rule \`-A INPUT -p udp -m udp --dport ${f.dports[0]} -m statistic --mode random --probability 0\\.3 -j DROP\``,
      ),
    // the first drops come before the ruleset is read; later ones name the rule
    extra: (d) => d.evidence.rule !== undefined,
    evidence: (_f, d) => expect(d.evidence.rule_packets).toBeGreaterThan(0),
  },
  mtu: {
    layer: 'link',
    component: 'veth',
    hint: (_f, lab) => new RegExp(`^segment of \\d+ bytes exceeds MTU 100 of ${esc(lab.b.ifname)} \\(peer of ${esc(lab.a.ifname)}\\)`),
    evidence: (_f, d) => {
      expect(d.evidence.peer_mtu).toBe(100);
      expect(d.evidence.len).toBeGreaterThan(100);
    },
  },
  'qdisc-tbf': {
    layer: 'qdisc',
    component: 'tbf',
    hint: (_f, lab) => new RegExp(`^tbf qdisc on ${esc(lab.a.ifname)} over its limit \\(qlen \\d+\\)`),
    evidence: (_f, d) => expect(d.evidence.qdisc).toBe('tbf'),
  },
  'udp-closed-port': {
    layer: 'transport',
    component: 'udp',
    hint: (f) => new RegExp(`^no socket listening on udp :${f.dports[0]} \\(closed port\\)`),
  },
  'tcp-closed-port': {
    layer: 'transport',
    component: 'tcp',
    hint: (f) => new RegExp(`^no socket listening on tcp :${f.dports[0]} \\(closed port\\)`),
  },
  'listen-overflow': {
    layer: 'socket',
    component: 'accept-queue',
    hint: (f) => new RegExp(`^accept queue of :${f.dports[0]} full \\(\\d+/1\\)`),
    evidence: (_f, d) => {
      expect(d.evidence.queue_limit).toBe(1);
      expect(d.evidence.queue_len).toBeGreaterThan(d.evidence.queue_limit ?? 0);
    },
  },
  'udp-rcvbuf': {
    layer: 'socket',
    component: 'receive-buffer',
    hint: (f) => new RegExp(`^receive buffer of udp :${f.dports[0]} full \\(\\d+/\\d+ bytes\\)`),
    evidence: (_f, d) => expect(d.evidence.rcvbuf_used).toBeGreaterThanOrEqual(d.evidence.rcvbuf_size ?? Number.NaN),
  },
  'rp-filter': {
    layer: 'ip',
    component: 'rp_filter',
    hint: (f, lab) => new RegExp(`^reverse-path filter: no route back to ${esc(f.saddr)} via ${esc(lab.b.ifname)}`),
  },
  'no-route': {
    layer: 'ip',
    component: 'routing',
    hint: (f) => new RegExp(`${esc(f.daddr)}`),
  },
};

describe.skipIf(SKIP_KERNEL)('every drop is placed in the stack, with a hint that names the numbers', () => {
  it.each(Object.keys(CASES))('%s', async (name) => {
    const { lab, run } = await setUp();
    const c = CASES[name];
    const facts = (await SCENARIOS[name](lab)) as DropFacts;
    const wanted = (r: { type: string }): r is DropRecord => {
      if (r.type !== 'drop') return false;
      const d = r as DropRecord;
      return d.reason === facts.reason && facts.locations.includes(fn(d.location)) && d.netns === facts.netns && (c.extra?.(d) ?? true);
    };
    let drop = await run.waitFor(wanted, 5000).catch(() => undefined);
    if (!drop && c.extra) {
      // the evidence is read once a second while drops continue: make a few more
      await SCENARIOS[name](lab);
      drop = await run.waitFor(wanted);
    }
    expect(await run.stop()).toBe(0);
    expect(drop).toBeDefined();
    const d = drop as DropRecord;
    expect({ layer: d.layer, component: d.component, benign: d.benign }).toEqual({ layer: c.layer, component: c.component, benign: false });
    expect(d.hint).toMatch(c.hint(facts, lab));
    c.evidence?.(facts, d);
    sample(`classify ${name}`, `${d.layer}/${d.component}: ${d.hint}  evidence=${JSON.stringify(d.evidence)}`);
  });

  it('marks the drops of ordinary HTTP request closes as benign, and hides them by default', async () => {
    const { lab, run } = await setUp();
    const port = randomInt(20000, 40000);
    const server = await trafficBg(lab, 'b', ['http-server', '--bind', lab.b.ipv4, '--port', String(port)]);
    // a close purges the socket's queues (QUEUE_PURGE at sk_stream_kill_queues) or, when data was
    // still unread, aborts (TCP_ABORT_ON_DATA): which one depends on timing, both are normal
    const ofHttp = (d: DropRecord) => d.sport === port || d.dport === port || fn(d.location) === 'sk_stream_kill_queues';
    try {
      // not every close frees something (empty queues free nothing): a few rounds until one does
      let seen: DropRecord | undefined;
      for (let round = 0; round < 6 && !seen; round++) {
        await traffic(lab, 'a', ['http-get', '--dst', lab.b.ipv4, '--dport', String(port), '--count', '5']);
        seen = await run.waitFor((r): r is DropRecord => r.type === 'drop' && ofHttp(r), 2000).catch(() => undefined);
      }
      expect(seen).toBeDefined();
      await new Promise((r) => setTimeout(r, 300));
      expect(await run.stop()).toBe(0);
      const http = run.drops().filter(ofHttp);
      expect(http.length).toBeGreaterThan(0);
      expect(http.filter((d) => !d.benign)).toEqual([]);
      // and the default view hides them
      const quiet = await DroptraceRun.start(['--json', '--netns', lab.a.ns, '--netns', lab.b.ns]);
      runs.push(quiet);
      await traffic(lab, 'a', ['http-get', '--dst', lab.b.ipv4, '--dport', String(port), '--count', '3']);
      await new Promise((r) => setTimeout(r, 300));
      expect(await quiet.stop()).toBe(0);
      expect(quiet.drops().filter((d) => d.benign)).toEqual([]);
    } finally {
      await server.finish().catch(() => undefined);
    }
  });
});
