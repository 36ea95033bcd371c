/**
 * The rule is named from the first drop on, and never from a counter that moved for another
 * packet: two DROP rules in one namespace, the first one with drops from before tracing started,
 * then single datagrams 1.5 s apart to the second rule's port only. Real iptables-nft rules,
 * real drops, the real CLI. And in a storm the reads cannot keep up with: the drops released
 * without their rule say so, and naming resumes once the storm is over.
 */
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import type { DropRecord, Finding } from '../../src/events.js';
import { BIN, DroptraceRun } from '../helpers/droptrace-cli.js';
import { SKIP_KERNEL } from '../helpers/kernel-env.js';
import { assertValidRecord } from '../helpers/schema.js';
import { Lab, PYTHON } from './lab/netns.js';
import { sleep } from './lab/traffic.js';

let lab: Lab | undefined;
let run: DroptraceRun | undefined;
afterEach(async () => {
  run?.kill();
  run = undefined;
  await lab?.destroy();
  lab = undefined;
});

const FIRST_PORT = 7101;
const SECOND_PORT = 7102;
const ruleText = (port: number) => `-A INPUT -p udp -m udp --dport ${port} -j DROP`;

function sendCommand(l: Lab, port: number, count = 1): string[] {
  const send = `import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); [s.sendto(b"x", ("${l.b.ipv4}", ${port})) for _ in range(${count})]`;
  return ['ip', 'netns', 'exec', l.a.ns, PYTHON, '-c', send];
}

function sh(argv: string[]): void {
  const r = spawnSync(argv[0] as string, argv.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
}

/** Two DROP rules in b; the first has dropped 3 datagrams already, so its counter is not zero. */
async function twoRules(): Promise<Lab> {
  const l = await Lab.create('dttm-rule');
  for (const port of [FIRST_PORT, SECOND_PORT])
    sh(['ip', 'netns', 'exec', l.b.ns, 'iptables', '-A', 'INPUT', '-p', 'udp', '--dport', String(port), '-j', 'DROP']);
  sh(sendCommand(l, FIRST_PORT, 3));
  return l;
}

const isDrop = (r: { type: string }): r is DropRecord => r.type === 'drop';

describe.skipIf(SKIP_KERNEL)('the netfilter rule behind a drop', () => {
  it('is named on the first drop, and each later drop names its own rule, one label for the rule', async () => {
    lab = await twoRules();
    run = await DroptraceRun.start(['--netns', lab.b.ns, '--json', '--reason', 'NETFILTER_DROP']);
    for (let i = 0; i < 4; i++) {
      if (i > 0) await sleep(1500);
      sh(sendCommand(lab, SECOND_PORT));
    }
    const current = run;
    await current.waitFor((r) => isDrop(r) && r.evidence.rule_packets === 4, 15_000).catch(() => undefined);
    await run.stop();
    const drops = run.drops();
    expect(drops).toHaveLength(4);
    for (const d of drops) {
      assertValidRecord(d);
      expect(d.dport).toBe(SECOND_PORT);
      expect(d.host).toBe(hostname());
      expect(d.component).toBe('iptables');
      expect(d.evidence.rule).toBe(ruleText(SECOND_PORT));
      expect(d.evidence.rule_candidates).toBeUndefined();
      expect(d.hint).toContain(`dropped by iptables rule \`${ruleText(SECOND_PORT)}\``);
    }
    expect(drops.map((d) => d.evidence.rule_packets)).toEqual([1, 2, 3, 4]);
  });

  it('is named by a check whose command makes one drop', async () => {
    lab = await twoRules();
    const r = spawnSync(process.execPath, [BIN, 'check', '--netns', lab.b.ns, '--json', '--', ...sendCommand(lab, SECOND_PORT)], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).toBe(3);
    const record = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}');
    assertValidRecord(record);
    expect(record.unexpected).toBe(1);
    const [finding] = record.findings as Finding[];
    expect(finding).toMatchObject({ count: 1, layer: 'netfilter', component: 'iptables', evidence: { rule: ruleText(SECOND_PORT) } });
    expect(r.stderr).toContain(ruleText(SECOND_PORT));
  });

  it('in a storm says which drops it could not name, and names the drop after the storm', async () => {
    lab = await twoRules();
    run = await DroptraceRun.start(['--netns', lab.b.ns, '--json', '--rate-limit', '0', '--reason', 'NETFILTER_DROP']);
    // far more drops than are held in order behind a ruleset read (4096), in one burst
    sh(sendCommand(lab, SECOND_PORT, 60_000));
    // the pause after a burst released unnamed (2 s), then one drop
    await sleep(3000);
    sh(sendCommand(lab, SECOND_PORT));
    const current = run;
    await current.waitFor((r) => isDrop(r) && r.evidence.rule_packets === 60_001, 15_000).catch(() => undefined);
    await run.stop();
    const drops = run.drops();
    const unnamed = drops.filter((d) => d.evidence.rule === undefined);
    expect(unnamed.length).toBeGreaterThan(0);
    for (const d of unnamed) {
      expect(d.hint?.startsWith('dropped by netfilter (rule not named: drops came faster than the ruleset could be read)')).toBe(true);
    }
    for (const d of drops.filter((x) => x.evidence.rule !== undefined)) expect(d.evidence.rule).toBe(ruleText(SECOND_PORT));
    const last = drops.at(-1) as DropRecord;
    assertValidRecord(last);
    expect(last.evidence.rule).toBe(ruleText(SECOND_PORT));
    expect(last.evidence.rule_packets).toBe(60_001);
  });
});
