/**
 * droptrace at a real terminal: the stream and `top` in a pseudo-terminal at 80×24 and 120×40,
 * with real drops from a namespace pair this test makes (an iptables DROP rule and a closed port).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CountsRecord } from '../../src/events.js';
import { BIN, DroptraceRun } from '../helpers/droptrace-cli.js';
import { SKIP_KERNEL } from '../helpers/kernel-env.js';
import { PtyRun, withoutCi } from '../helpers/pty.js';
import { sample } from '../helpers/samples.js';
import { PYTHON } from './lab/netns.js';

const id = randomBytes(2).toString('hex');
/** Short enough to be shown whole at 80 columns. */
const WEB = `dttm-${id}w`;
const CLI = `dttm-${id}c`;
const o3 = randomBytes(1)[0] as number;
const WEB_ADDR = `10.233.${o3}.1`;
const CLI_ADDR = `10.233.${o3}.2`;
const RULE_PORT = 7201;
const CLOSED_PORT = 7202;

const sh = (...argv: string[]) => execFileSync(argv[0] as string, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** `count` UDP datagrams from the client namespace to the web namespace's `port`. */
function send(port: number, count: number): void {
  sh(
    'ip',
    'netns',
    'exec',
    CLI,
    PYTHON,
    '-c',
    `import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor i in range(${count}): s.sendto(b"x", ("${WEB_ADDR}", ${port}))`,
  );
}

let pty: PtyRun | undefined;
afterEach(() => {
  pty?.kill();
  pty = undefined;
});

describe.skipIf(SKIP_KERNEL)('at a terminal', () => {
  beforeAll(() => {
    sh('ip', 'netns', 'add', WEB);
    sh('ip', 'netns', 'add', CLI);
    sh('ip', 'link', 'add', `dttm${id}w`, 'netns', WEB, 'type', 'veth', 'peer', 'name', `dttm${id}c`, 'netns', CLI);
    sh('ip', '-n', WEB, 'addr', 'add', `${WEB_ADDR}/24`, 'dev', `dttm${id}w`);
    sh('ip', '-n', CLI, 'addr', 'add', `${CLI_ADDR}/24`, 'dev', `dttm${id}c`);
    for (const [ns, dev] of [
      [WEB, `dttm${id}w`],
      [CLI, `dttm${id}c`],
    ] as const) {
      sh('ip', '-n', ns, 'link', 'set', dev, 'up');
      sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
    }
    sh('ip', 'netns', 'exec', WEB, 'iptables', '-A', 'INPUT', '-p', 'udp', '--dport', String(RULE_PORT), '-j', 'DROP');
  });

  afterAll(() => {
    for (const ns of [WEB, CLI]) {
      try {
        sh('ip', 'netns', 'del', ns);
      } catch {
        // not made: beforeAll's own failure is the one reported
      }
    }
  });

  it.each([
    [80, 24],
    [120, 40],
  ])('the stream fits %i columns, names the container, layer and rule', async (cols, rows) => {
    pty = new PtyRun(['--netns', WEB, '--duration', '4'], { cols, rows });
    await pty.waitFor(/tracing drops/);
    send(RULE_PORT, 2);
    send(CLOSED_PORT, 1);
    await pty.waitFor(/NO_SOCKET/);
    expect(await pty.exited).toBe(0);
    const events = pty.lines().filter((l) => l.includes(WEB) && /NETFILTER_DROP|NO_SOCKET/.test(l));
    sample(`stream at ${cols} columns`, events.join('\n'));
    expect(events).toHaveLength(3);
    for (const l of events) expect(l.length).toBeLessThanOrEqual(cols);
    expect(events[0]).toMatch(
      new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\S* ${WEB} +rx udp ${CLI_ADDR.replace(/\./g, '\\.')}\\S* +NETFILTER_DROP +netfilter/iptables`),
    );
    expect(events[2]).toMatch(/NO_SOCKET +transport\/udp/);
    if (cols >= 120) expect(events[0]).toContain('dropped by iptables rule');
    expect(pty.output).toContain('\x1b['); // a colour terminal
  });

  it.each([
    [80, 24],
    [120, 40],
  ])('top fits %i×%i and shows the container, the layer and the exact counts', async (cols, rows) => {
    pty = new PtyRun(['top', '--netns', WEB, '--duration', '4'], { cols, rows });
    await pty.waitFor(/droptrace top/);
    send(RULE_PORT, 5);
    send(CLOSED_PORT, 3);
    expect(await pty.exited).toBe(0);
    // the last frame: everything after the last cursor-home
    const frame = stripVTControlCharacters(pty.output.slice(pty.output.lastIndexOf('\x1b[H')))
      .split(/\r?\n/)
      .map((l) => l.replace(/\r$/, ''))
      .filter((l) => l !== '');
    sample(`top at ${cols}x${rows}`, frame.join('\n'));
    expect(frame.length).toBeLessThanOrEqual(rows);
    for (const l of frame) expect(l.length).toBeLessThanOrEqual(cols);
    expect(frame[0]).toMatch(/^droptrace top {2}\d\d:\d\d:\d\d/);
    // the namespace's own benign drops (IPv6 neighbour discovery and the like) count in the total too
    expect(frame[1]).toMatch(/^drops \d+ \(\d+\/s\) {2}retransmits 0 \(0\/s\) {2}lost 0 {2}suppressed 0/);
    const row = (reason: string) => frame.find((l) => l.startsWith(`${WEB} `) && l.includes(reason)) ?? '';
    // the rule's label is the stream's: iptables for an iptables-nft rule
    expect(row('NETFILTER_DROP')).toMatch(/ netfilter\/iptables +NETFILTER_DROP +5 +\d+$/);
    expect(row('NO_SOCKET')).toMatch(/ transport\/udp +NO_SOCKET +3 +\d+$/);
  });

  it('top follows the terminal when it is resized', async () => {
    const driver = fileURLToPath(new URL('../helpers/pty-resize.py', import.meta.url));
    const r = spawnSync(
      PYTHON,
      [driver, '120', '40', '40', '12', '1.5', 'by container', '--', process.execPath, BIN, 'top', '--netns', WEB, '--duration', '4.5'],
      {
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    expect(r.status).toBe(0);
    const frames = (t: string) =>
      t
        .split('\x1b[H')
        .slice(1)
        .map((f) => stripVTControlCharacters(f).replace(/\r/g, '').split('\n').filter(Boolean));
    const [before, after] = r.stdout.split('@@resized@@') as [string, string];
    const wide = frames(before).at(-1) ?? [];
    expect(wide.join('\n')).toContain('traced, every 1 s, by container');
    // the totals line alone is over 50 columns: whole before, cut after
    expect(Math.max(...wide.map((l) => l.length))).toBeGreaterThan(50);
    const last = frames(after).at(-1) ?? [];
    expect(last.length).toBeGreaterThan(0);
    expect(last.length).toBeLessThanOrEqual(12);
    for (const l of last) expect(l.length).toBeLessThanOrEqual(40);
  });

  it('top piped: one block per interval; --json: counts records with the same names', async () => {
    const piped = await DroptraceRun.start(['top', '--netns', WEB, '--duration', '2.5', '--interval', '1']);
    send(RULE_PORT, 2);
    await piped.exited;
    const blocks = piped.stdout.split(/\n(?=droptrace top )/);
    expect(blocks.length).toBeGreaterThanOrEqual(3); // two intervals and the final one
    expect(piped.stdout).not.toContain('\u001b[');
    expect(blocks.at(-1)).toMatch(new RegExp(`\n${WEB} +netfilter/iptables +NETFILTER_DROP +2 +\\d+`));

    const json = await DroptraceRun.start(['top', '--netns', WEB, '--duration', '2', '--json']);
    send(CLOSED_PORT, 4);
    await json.exited;
    const counts = json.records().filter((r): r is CountsRecord => r.type === 'counts');
    const lastCounts = counts.at(-1);
    expect(lastCounts?.drops).toBe(lastCounts?.rows.reduce((n, r) => n + r.count, 0));
    expect(lastCounts?.rows.filter((r) => r.reason === 'NO_SOCKET')).toEqual([
      expect.objectContaining({ where: WEB, layer: 'transport', component: 'udp', benign: false, count: 4 }),
    ]);
  });

  it('explain shows its progress on a terminal; stopped early, it reports the time it traced', async () => {
    pty = new PtyRun(['explain', '--netns', WEB, '--duration', '3'], { cols: 80, rows: 24 });
    await pty.waitFor(/s left of 3 s/);
    expect(await pty.exited).toBe(0);
    expect(pty.plain()).toMatch(/droptrace explain: 3 s traced/);

    const run = await DroptraceRun.start(['explain', '--netns', WEB, '--duration', '30']);
    send(RULE_PORT, 2);
    await new Promise((r) => setTimeout(r, 2000));
    expect(await run.stop()).toBe(0);
    const traced = Number(/^droptrace explain: ([\d.]+) s traced, 2 drops that matter/m.exec(run.stdout)?.[1]);
    expect(traced).toBeGreaterThan(1.5);
    expect(traced).toBeLessThan(10);
    expect(run.stderr).toMatch(new RegExp(`stopped after ${traced} s of 30 s`));
    expect(run.stdout).toMatch(/NETFILTER_DROP +×2/);
  });

  it('--container takes an ip netns name, as `droptrace containers` lists it', async () => {
    const listed = spawnSync(process.execPath, [BIN, 'containers', '--json'], { encoding: 'utf8' });
    expect((JSON.parse(listed.stdout) as { name: string; runtime: string }[]).find((c) => c.name === WEB)).toMatchObject({
      runtime: 'netns',
    });
    const run = await DroptraceRun.start(['--container', WEB, '--json', '--duration', '3']);
    send(CLOSED_PORT, 2);
    await run.exited;
    const drops = run.drops().filter((d) => d.reason === 'NO_SOCKET');
    expect(drops).toHaveLength(2);
    expect(drops[0]?.container).toMatchObject({ name: WEB, runtime: 'netns' });
    const unknown = await DroptraceRun.run(['--container', `${WEB}-nope`, '--duration', '1']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('ERR_DROPTRACE_CONTAINER_UNKNOWN');
    expect(unknown.stderr).toMatch(new RegExp(`ip netns: [^\\n]*\\b${WEB}\\b`));
  });

  it('NO_COLOR: no escape sequences in the stream', async () => {
    pty = new PtyRun(['--netns', WEB, '--duration', '3'], { cols: 80, rows: 24 }, { ...withoutCi(process.env), NO_COLOR: '1' });
    await pty.waitFor(/tracing drops/);
    send(RULE_PORT, 1);
    await pty.waitFor(/NETFILTER_DROP/);
    await pty.exited;
    expect(pty.output).not.toContain('\u001b[');
  });

  it('--wide prints every field, uncut', async () => {
    pty = new PtyRun(['--netns', WEB, '--duration', '3', '--wide'], { cols: 80, rows: 24 });
    await pty.waitFor(/tracing drops/);
    send(RULE_PORT, 1);
    await pty.waitFor(/NETFILTER_DROP/);
    await pty.exited;
    const line = pty.lines().find((l) => l.includes('NETFILTER_DROP')) ?? '';
    expect(line.length).toBeGreaterThan(80);
    expect(line).toMatch(
      /nft_do_chain\+0x[0-9a-f]+ +netfilter\/iptables: dropped by iptables rule `-A INPUT -p udp -m udp --dport 7201 -j DROP`/,
    );
  });
});

describe('the command line answers', () => {
  it("help <verb> prints that verb's help", () => {
    const r = spawnSync(process.execPath, [BIN, 'help', 'top'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: droptrace top \[options\]/);
    expect(r.stdout).toContain('--by <what>');
  });

  it('an unknown verb is named, with the list of verbs', () => {
    const r = spawnSync(process.execPath, [BIN, 'frobnicate'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("droptrace: error [ERR_DROPTRACE_VERB_UNKNOWN]: unknown command 'frobnicate'");
    const listed = /commands: ([a-z, ]+) \(droptrace help <command>\)/.exec(r.stderr)?.[1].split(', ');
    expect(listed).toEqual(expect.arrayContaining(['top', 'explain', 'check', 'containers', 'reasons', 'help']));
  });
});
