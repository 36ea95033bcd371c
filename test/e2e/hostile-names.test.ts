/**
 * Names chosen by whoever is root in a namespace (netns name, interface names, an iptables rule
 * comment) carrying terminal control bytes: the human stream and its error messages show them
 * escaped, the NDJSON stream carries them exactly.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DropRecord } from '../../src/events.js';
import { DroptraceRun } from '../helpers/droptrace-cli.js';
import { SKIP_KERNEL } from '../helpers/kernel-env.js';

const id = randomBytes(2).toString('hex');
/** ESC-CSI colour, OSC title, and a bidi override in the netns name; ESC and C1 CSI in the ifnames. */
const NS_EVIL = `dthx-${id}-\x1b[31mred\x1b]0;pwned\x07\u202eevil`;
const NS_CLI = `dthx-${id}-cli`;
const IF_EVIL = `a\x1b[31mz${id}`; // 11 bytes, under IFNAMSIZ
const IF_CLI = `h\u202ei${id}`; // valid UTF-8 with a bidi control: 9 bytes
const COMMENT = `c\x1b[2Jcleared\u009b31m`;
const SRV = '10.251.77.1';
const CLI = '10.251.77.2';
const PORT = 9;

const sh = (...argv: string[]) => execFileSync(argv[0] as string, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const inNs = (ns: string, ...argv: string[]) => sh('ip', 'netns', 'exec', ns, ...argv);
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding raw control characters is the test
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

function sendUdp(count: number): void {
  inNs(
    NS_CLI,
    'python3',
    '-c',
    `import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor i in range(${count}): s.sendto(b"x", ("${SRV}", ${PORT}))`,
  );
}

async function until(ok: () => boolean, act: () => void, ms = 20_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) return false;
    act();
    await new Promise((r) => setTimeout(r, 300));
  }
  return true;
}

describe.skipIf(SKIP_KERNEL)('hostile names reach no terminal raw', () => {
  const runs: DroptraceRun[] = [];
  beforeAll(() => {
    sh('ip', 'netns', 'add', NS_EVIL);
    sh('ip', 'netns', 'add', NS_CLI);
    sh('ip', 'link', 'add', IF_EVIL, 'netns', NS_EVIL, 'type', 'veth', 'peer', 'name', IF_CLI, 'netns', NS_CLI);
    inNs(NS_EVIL, 'ip', 'addr', 'add', `${SRV}/24`, 'dev', IF_EVIL);
    inNs(NS_EVIL, 'ip', 'link', 'set', IF_EVIL, 'up');
    inNs(NS_CLI, 'ip', 'addr', 'add', `${CLI}/24`, 'dev', IF_CLI);
    inNs(NS_CLI, 'ip', 'link', 'set', IF_CLI, 'up');
    inNs(NS_EVIL, 'iptables', '-A', 'INPUT', '-p', 'udp', '--dport', String(PORT), '-m', 'comment', '--comment', COMMENT, '-j', 'DROP');
  });
  afterAll(() => {
    for (const r of runs) r.kill();
    for (const ns of [NS_EVIL, NS_CLI]) {
      try {
        sh('ip', 'netns', 'del', ns);
      } catch {}
    }
  });

  it('human output is escaped, NDJSON is exact', async () => {
    const json = await DroptraceRun.start(['--json', '--netns', NS_EVIL]);
    runs.push(json);
    const text = await DroptraceRun.start(['--netns', NS_EVIL]);
    runs.push(text);
    const named = () => json.drops().some((d) => d.evidence.rule !== undefined) && /cleared/.test(text.stdout);
    expect(await until(named, () => sendUdp(3))).toBe(true);
    expect(await json.stop()).toBe(0);
    expect(await text.stop()).toBe(0);

    const drop = json.drops().find((d): d is DropRecord => d.evidence.rule !== undefined) as DropRecord;
    expect(drop.reason).toBe('NETFILTER_DROP');
    expect(drop.netns).toBe(statSync(`/run/netns/${NS_EVIL}`).ino);
    expect(drop.ifname).toBe(IF_EVIL);
    expect(drop.container?.name).toBe(NS_EVIL);
    expect(drop.evidence.rule).toContain(COMMENT);
    // NDJSON on a terminal is inert too: C1 and bidi are \u escapes, C0 JSON's own
    expect(json.stdout.replace(/\n/g, '')).not.toMatch(RAW_CONTROL);

    const out = text.stdout + text.stderr;
    expect(out).not.toMatch(RAW_CONTROL);
    expect(text.stdout).toContain(`a\\x1b[31mz${id}`);
    expect(text.stdout).toContain('\\x1b]0;pwned\\x07\\u202eevil');
    expect(text.stdout).toContain('c\\x1b[2Jcleared');
  });

  it('error messages escape and shorten what they echo', async () => {
    const r = await DroptraceRun.run(['--netns', `nope\x1b[2J${'x'.repeat(100_000)}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('ERR_DROPTRACE_NETNS_UNKNOWN');
    expect(r.stderr).toContain('nope\\x1b[2J');
    expect(r.stderr).not.toMatch(RAW_CONTROL);
    expect(r.stderr.length).toBeLessThan(4000);
  });
});
