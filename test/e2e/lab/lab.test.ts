/**
 * Proves the lab, independently of droptrace: every scenario makes the kernel event it promises,
 * in the namespace it promises, as seen by bpftrace on the same tracepoints.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { HAS_BPFTRACE, IS_ROOT, skipKernelTests } from '../../helpers/kernel-env.js';
import { type KernelEvent, KernelWatch } from './kernel-watch.js';
import { Lab } from './netns.js';
import { type DropFacts, type Facts, type RetransmitFacts, SCENARIOS } from './scenarios.js';
import { traffic } from './traffic.js';

const PREFIX = 'dtlab';
const TCP_CA_RECOVERY = 3;
const TCP_CA_LOSS = 4;
const runnable = IS_ROOT && HAS_BPFTRACE;

function netnsList(): string[] {
  return spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .stdout.split('\n')
    .map((l) => l.split(' ')[0])
    .filter((n) => n.startsWith(`${PREFIX}-`));
}

function matchingDrops(evs: KernelEvent[], f: DropFacts): KernelEvent[] {
  return evs.filter(
    (e) =>
      e.type === 'drop' &&
      e.netns === f.netns &&
      e.reason === f.reason &&
      f.locations.some((l) => e.location === l || e.location.startsWith(`${l}+`)),
  );
}

function matchingRetransmits(evs: KernelEvent[], f: RetransmitFacts): KernelEvent[] {
  const type = f.kind === 'synack' ? 'synack' : 'retransmit';
  return evs.filter(
    (e) =>
      e.type === type &&
      e.netns === f.netns &&
      (type === 'synack' || e.state === f.state) &&
      f.sports.includes(e.sport) &&
      f.dports.includes(e.dport),
  );
}

function summary(evs: KernelEvent[]): Record<string, number> {
  const s: Record<string, number> = {};
  for (const e of evs) {
    const k = e.type === 'drop' ? `${e.netns} ${e.reason} ${e.location}` : `${e.netns} ${e.type} ${e.state} ca=${e.caState}`;
    s[k] = (s[k] ?? 0) + 1;
  }
  return s;
}

describe.skipIf(skipKernelTests({ bpftrace: true }))('lab', () => {
  const labs: Lab[] = [];
  let watch: KernelWatch | undefined;

  afterEach(async () => {
    watch?.kill();
    watch = undefined;
    await Promise.all(labs.splice(0).map((l) => l.destroy()));
  });
  afterAll(() => {
    expect(netnsList().filter((n) => labs.some((l) => n.includes(l.id)))).toEqual([]);
  });

  it('creates two joined namespaces and removes them with their programs', async () => {
    expect(runnable, 'needs root and bpftrace').toBe(true);
    const lab = await Lab.create(PREFIX);
    const other = await Lab.create(PREFIX);
    labs.push(lab, other);
    for (const l of [lab, other]) {
      expect(l.a.ns).toMatch(/^dtlab-[0-9a-f]{6}-a$/);
      expect(l.b.ns).toBe(l.a.ns.replace(/-a$/, '-b'));
      expect(l.a.ifname.length).toBeLessThanOrEqual(15);
      expect(l.a.inode).not.toBe(l.b.inode);
      expect(l.a.ifindex).toBeGreaterThan(1);
    }
    expect(lab.a.ifname).not.toBe(other.a.ifname);
    expect(lab.a.inode).not.toBe(other.a.inode);
    // the veth works both ways, v4 and v6: a SYN to a closed port comes back as a refusal
    for (const dst of [lab.b.ipv4, lab.b.ipv6]) {
      const r = await traffic(lab, 'a', ['tcp-connect', '--dst', dst, '--dport', '9', '--timeout', '2']);
      expect(r.outcomes).toEqual(['ECONNREFUSED']);
    }
    const c = await lab.addNamespace('c');
    expect(c.ns).toBe(`${PREFIX}-${lab.id}-c`);
    expect(c.inode).not.toBe(lab.a.inode);
    const sleeper = lab.spawn('b', 'sleep', ['30']);
    expect(lab.pids).toContain(sleeper.pid);
    await lab.destroy();
    await lab.destroy(); // idempotent
    expect(sleeper.signalCode).toBe('SIGKILL');
    for (const ns of [lab.a.ns, lab.b.ns, c.ns]) expect(existsSync(`/run/netns/${ns}`)).toBe(false);
    expect(existsSync(`/run/netns/${other.a.ns}`)).toBe(true);
  });

  it.each(Object.keys(SCENARIOS))(
    'scenario %s makes its kernel event in its namespace',
    async (name) => {
      expect(runnable, 'needs root and bpftrace').toBe(true);
      const lab = await Lab.create(PREFIX);
      labs.push(lab);
      watch = await KernelWatch.start([lab.a.inode, lab.b.inode]);
      const t0 = Date.now();
      const facts: Facts = await SCENARIOS[name](lab);
      const took = Date.now() - t0;
      // retransmits and softirq drops land within a few ms of the traffic
      await new Promise((r) => setTimeout(r, 200));
      const evs = await watch.stop();
      watch = undefined;
      const seen = summary(evs);
      if (process.env.DTLAB_VERBOSE) console.log(name, JSON.stringify(seen));
      expect(took, 'scenario time').toBeLessThan(4000);
      if (facts.type === 'drop') {
        const hits = matchingDrops(evs, facts);
        expect(hits.length, JSON.stringify({ facts, seen }, null, 1)).toBeGreaterThanOrEqual(facts.minEvents);
        if (facts.ifindex !== null) {
          expect(new Set(hits.map((h) => (h.type === 'drop' ? h.ifindex : -1)))).toEqual(new Set([facts.ifindex]));
        }
      } else {
        const hits = matchingRetransmits(evs, facts);
        expect(hits.length, JSON.stringify({ facts, seen }, null, 1)).toBeGreaterThanOrEqual(facts.minEvents);
        // the kind, as droptrace tells it from the socket (retransmit_kind() in bpf/droptrace.bpf.c): RTO in Loss, fast retransmit in Recovery
        const caStates = hits.map((h) => (h.type === 'drop' ? -1 : h.caState));
        if (facts.kind === 'rto') expect(caStates).toContain(TCP_CA_LOSS);
        if (facts.kind === 'fast') expect(caStates).toContain(TCP_CA_RECOVERY);
      }
    },
    30_000,
  );
});
