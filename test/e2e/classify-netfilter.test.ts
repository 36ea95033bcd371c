/**
 * Real rulesets in namespaces this test makes: netfilter-rules must name exactly the rule whose
 * counter rises while UDP is dropped, for an iptables(-nft) rule and for a native nft rule.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConntrackEvidence } from '../../src/readers/conntrack-evidence.js';
import { NetfilterRules } from '../../src/readers/netfilter-rules.js';
import { SKIP_KERNEL } from '../helpers/kernel-env.js';

const tag = String(process.pid % 100000);
const SRV = `dtcls-srv-${tag}`;
const CLI = `dtcls-cli-${tag}`;
const VSRV = `dtcls-s${tag}`;
const VCLI = `dtcls-c${tag}`;
const SRV_ADDR = '10.231.7.1';
const CLI_ADDR = '10.231.7.2';
const NS_PATH = `/run/netns/${SRV}`;

const sh = (...argv: string[]) => execFileSync(argv[0] as string, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const inSrv = (...argv: string[]) => sh('ip', 'netns', 'exec', SRV, ...argv);

/** Sends `count` UDP datagrams from the client namespace to the server's port. */
function sendUdp(port: number, count: number): void {
  sh(
    'ip',
    'netns',
    'exec',
    CLI,
    'python3',
    '-c',
    `import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor i in range(${count}): s.sendto(b"droptrace", ("${SRV_ADDR}", ${port}))`,
  );
}

const IPT_RULE = '-A INPUT -p udp -m udp --dport 9999 -m statistic --mode random --probability 0.3 -j DROP';
const NFT_RULE = 'add rule inet dtcls input udp dport 9998 numgen random mod 10 < 3 counter drop';

describe.skipIf(SKIP_KERNEL)('netfilter rule evidence in a real namespace', () => {
  beforeAll(() => {
    sh('ip', 'netns', 'add', SRV);
    sh('ip', 'netns', 'add', CLI);
    sh('ip', 'link', 'add', VSRV, 'netns', SRV, 'type', 'veth', 'peer', 'name', VCLI, 'netns', CLI);
    inSrv('ip', 'addr', 'add', `${SRV_ADDR}/24`, 'dev', VSRV);
    inSrv('ip', 'link', 'set', VSRV, 'up');
    sh('ip', 'netns', 'exec', CLI, 'ip', 'addr', 'add', `${CLI_ADDR}/24`, 'dev', VCLI);
    sh('ip', 'netns', 'exec', CLI, 'ip', 'link', 'set', VCLI, 'up');
    // a conntrack match makes conntrack track this namespace, for the conntrack evidence below
    inSrv('iptables', '-A', 'INPUT', '-m', 'conntrack', '--ctstate', 'INVALID', '-j', 'DROP');
    inSrv(
      'iptables',
      '-A',
      'INPUT',
      '-p',
      'udp',
      '--dport',
      '9999',
      '-m',
      'statistic',
      '--mode',
      'random',
      '--probability',
      '0.3',
      '-j',
      'DROP',
    );
    inSrv('nft', 'add', 'table', 'inet', 'dtcls');
    inSrv('nft', 'add', 'chain', 'inet', 'dtcls', 'input', '{ type filter hook input priority 10; policy accept; }');
    inSrv(
      'nft',
      'add',
      'rule',
      'inet',
      'dtcls',
      'input',
      'udp',
      'dport',
      '9998',
      'numgen',
      'random',
      'mod',
      '10',
      '<',
      '3',
      'counter',
      'drop',
    );
    inSrv('nft', 'add', 'rule', 'inet', 'dtcls', 'input', 'udp', 'dport', '9997', 'counter', 'accept');
  });

  afterAll(() => {
    // deleting the namespaces removes the veth pair and every rule in them
    for (const ns of [SRV, CLI]) {
      try {
        sh('ip', 'netns', 'del', ns);
      } catch {
        // not created: beforeAll failed early, and that failure is the one reported
      }
    }
  });

  it('names the iptables rule whose counter rises', async () => {
    const rules = new NetfilterRules({ minGapMs: 0 });
    await rules.lookup(NS_PATH); // baseline
    sendUdp(9999, 300);
    const first = await rules.lookup(NS_PATH);
    expect(first.map((h) => [h.source, h.table, h.chain, h.rule, h.verdict])).toEqual([['iptables', 'filter', 'INPUT', IPT_RULE, 'DROP']]);
    const [hit] = first;
    expect(hit?.delta).toBeGreaterThan(30); // 30% of 300, with ample slack for chance
    expect(hit?.delta).toBeLessThan(200);

    sendUdp(9999, 300);
    const second = await rules.lookup(NS_PATH);
    expect(second).toHaveLength(1);
    expect(second[0]?.rule).toBe(IPT_RULE);
    expect(second[0]?.packets).toBeGreaterThan(hit?.packets ?? Number.POSITIVE_INFINITY);
  });

  it('names the native nft rule whose counter rises', async () => {
    const rules = new NetfilterRules({ minGapMs: 0 });
    await rules.lookup(NS_PATH);
    sendUdp(9998, 300);
    const first = await rules.lookup(NS_PATH);
    expect(first.map((h) => [h.source, h.table, h.chain, h.rule, h.verdict])).toEqual([
      ['nftables', 'inet dtcls', 'input', NFT_RULE, 'DROP'],
    ]);
    expect(first[0]?.delta).toBeGreaterThan(30);

    sendUdp(9998, 300);
    const second = await rules.lookup(NS_PATH);
    expect(second.map((h) => h.rule)).toEqual([NFT_RULE]);
    expect(second[0]?.packets).toBeGreaterThan(first[0]?.packets ?? Number.POSITIVE_INFINITY);
  });

  it('reports nothing while only accepted traffic flows', async () => {
    const rules = new NetfilterRules({ minGapMs: 0 });
    await rules.lookup(NS_PATH);
    sendUdp(9997, 50);
    expect(await rules.lookup(NS_PATH)).toEqual([]);
  });

  it('reads the namespace conntrack count and limit', async () => {
    sendUdp(9997, 5);
    const stats = await new ConntrackEvidence().lookup(NS_PATH);
    expect(stats?.count).toBeGreaterThanOrEqual(1);
    expect(stats?.max).toBeGreaterThan(0);
  });

  it('fails clearly for a namespace that does not exist', async () => {
    await expect(new NetfilterRules().lookup(`/run/netns/dtcls-gone-${tag}`)).rejects.toMatchObject({
      code: 'ERR_DROPTRACE_CLASSIFY_NETNS',
    });
  });
});
