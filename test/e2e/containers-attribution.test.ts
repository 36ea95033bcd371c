/**
 * End to end: a real Docker engine, a container named `nginx` serving HTTP on a published
 * port and a bystander, real drops made in and around them, and what `droptrace --container nginx`
 * printed for each: the reason, the layer, the container and how it was attributed.
 *
 * With DROPTRACE_SAMPLES=<file>, one NDJSON line and one text line per case are appended to the file
 * (for a report).
 */
import { spawnSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ContainerStateRecord, DropRecord, DroptraceRecord } from '../../src/events.js';
import { trace as traceLib } from '../../src/index.js';
import { BIN, DroptraceRun } from '../helpers/droptrace-cli.js';
import { SKIP_KERNEL } from '../helpers/kernel-env.js';
import { sample } from '../helpers/samples.js';
import {
  freePort,
  hostNetnsInode,
  hostRule,
  hostVethOf,
  httpGets,
  inNetns,
  leftovers,
  makeClient,
  netnsInode,
  run,
  udpBurst,
} from './docker/attribution-lab.js';
import { DockerEngine, IMAGE, type RunningContainer } from './docker/engine.js';

const NGINX = 'nginx';
/** Nothing listens on it in either container: UDP there is a NO_SOCKET drop. */
const CLOSED_PORT = 9;
const BYSTANDER = 'dtattr-bystander';

let engine: DockerEngine | undefined;
let nginx: RunningContainer;
let bystander: RunningContainer;
let port: number;
let hostNs: number;

const runs: DroptraceRun[] = [];
const undo: Array<() => void> = [];

/** Kills our tracers and undoes what the test changed, newest first; one failing undo does not stop the rest. */
function cleanUp(): void {
  for (const r of runs.splice(0)) r.kill();
  const errors: unknown[] = [];
  for (const u of undo.splice(0).reverse()) {
    try {
      u();
    } catch (e) {
      errors.push(e);
    }
  }
  if (errors.length) throw new AggregateError(errors, 'clean-up failed');
}

afterEach(cleanUp);

const fn = (location: string) => location.replace(/\+0x[0-9a-f]+$/, '');
const isDrop = (r: DroptraceRecord): r is DropRecord => r.type === 'drop';

/** The stdout line of a JSON run that printed `rec` (the first identical record). */
function lineOf(r: DroptraceRun, rec: DroptraceRecord): string {
  return r.stdout.split('\n').find((l) => l.startsWith('{') && JSON.stringify(JSON.parse(l)) === JSON.stringify(rec)) ?? '';
}

async function trace(args: string[], env: NodeJS.ProcessEnv = engine!.env): Promise<DroptraceRun> {
  const r = await DroptraceRun.start(args, 15_000, env);
  runs.push(r);
  return r;
}

/** Repeats `act` (making drops) until `r` printed a record `pred` accepts. */
async function until<T extends DroptraceRecord>(
  r: DroptraceRun,
  pred: (rec: DroptraceRecord) => rec is T,
  act: () => unknown,
  timeoutMs = 8000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await act();
    const hit = await r.waitFor(pred, 700).catch(() => null);
    if (hit) return hit as T;
    if (Date.now() > deadline) return r.waitFor(pred, 1); // throws with what was seen
  }
}

/**
 * The first drop whose hint names the netfilter rule: the namespace's ruleset is read in the
 * background (at most once a second) after the first drops. Says what it saw when none does.
 */
async function namedRule(r: DroptraceRun, traffic: () => unknown): Promise<DropRecord | undefined> {
  const named = await until(r, (rec): rec is DropRecord => isDrop(rec) && rec.evidence.rule !== undefined, traffic, 15_000).catch(
    () => undefined,
  );
  if (!named)
    console.error(`no drop named its rule; hints seen: ${[...new Set(r.drops().map((d) => d.hint))].join(' | ')}\nstderr: ${r.stderr}`);
  return named;
}

async function waitForText(get: () => string, re: RegExp, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!re.test(get())) {
    if (Date.now() > deadline) throw new Error(`no ${re} in:\n${get()}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

/** A text line of `r` (printed after stdout offset `from`) that names `name` first and shows `reason`. */
async function textLine(r: DroptraceRun, name: string, reason: string, act: () => unknown, from = 0, timeoutMs = 8000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  const find = () =>
    r.stdout
      .slice(from)
      .split('\n')
      .find((l) => l.includes(` ${name} `) && l.includes(reason));
  for (;;) {
    const hit = find();
    if (hit) return hit;
    if (Date.now() > deadline || r.child.exitCode !== null)
      throw new Error(`no text line for ${name} ${reason}; saw:\n${r.stdout.slice(-3000)}\nstderr:\n${r.stderr}`);
    await act();
    await new Promise((res) => setTimeout(res, 500));
  }
}

describe.skipIf(SKIP_KERNEL)('droptrace --container nginx against a real Docker engine', () => {
  beforeAll(async () => {
    engine = await DockerEngine.start();
    port = await freePort();
    nginx = engine.runContainer(NGINX, { hostPort: port });
    bystander = engine.runContainer(BYSTANDER);
    hostNs = hostNetnsInode();
    // the published port answers before any test breaks it
    expect(await httpGets(port, 1, 3000)).toBe(1);
  }, 120_000);

  afterAll(async () => {
    let problems: string[] = [];
    try {
      cleanUp();
    } finally {
      // the engine goes whatever happened above
      problems = (await engine?.teardown()) ?? [];
    }
    expect(problems).toEqual([]);
    expect(leftovers()).toEqual([]);
  }, 60_000);

  const ipOf = (name: string) => engine!.docker(['inspect', '--format', '{{.NetworkSettings.IPAddress}}', name]).stdout.trim();

  it('iptables random DROP inside nginx, HTTP to the published port: NETFILTER_DROP via netns', async () => {
    const json = await trace(['--json', '--container', NGINX]);
    const text = await trace(['--container', NGINX]);
    const rule = ['INPUT', '-p', 'tcp', '--dport', '80', '-m', 'statistic', '--mode', 'random', '--probability', '0.3', '-j', 'DROP'];
    inNetns(nginx.pid, ['iptables', '-w', '-A', ...rule]);
    undo.push(() => inNetns(nginx.pid, ['iptables', '-w', '-D', ...rule]));
    const traffic = () => httpGets(port, 10, 800);
    const drop = await until(json, (r): r is DropRecord => isDrop(r) && r.reason === 'NETFILTER_DROP', traffic);
    const line = await textLine(text, NGINX, 'NETFILTER_DROP', traffic);
    // once the namespace's ruleset has been read (at most a second), the drops name the rule
    const named = await namedRule(json, traffic);
    expect(named?.hint).toMatch(
      /^dropped by iptables rule `-A INPUT -p tcp -m tcp --dport 80 -m statistic --mode random --probability 0\.3 -j DROP` in nginx's namespace$/,
    );
    expect(named).toMatchObject({ component: 'iptables', container_via: 'netns', evidence: { table: 'filter' } });
    expect(await json.stop()).toBe(0);
    expect(drop).toMatchObject({
      reason: 'NETFILTER_DROP',
      layer: 'netfilter',
      netns: netnsInode(nginx.pid),
      proto: 'tcp',
      dport: 80,
      container: { id: nginx.id, name: NGINX, runtime: 'docker', image: IMAGE, pid: nginx.pid },
      container_via: 'netns',
    });
    sample('1 netfilter (json)', lineOf(json, drop));
    sample('1 netfilter, rule named (json)', lineOf(json, named as DropRecord));
    sample('1 netfilter (text)', line);
  });

  it('MTU 100 on nginx eth0, HTTP GET through the published port: dropped on the host veth, via veth-peer', async () => {
    const json = await trace(['--json', '--container', NGINX]);
    const text = await trace(['--container', NGINX]);
    inNetns(nginx.pid, ['ip', 'link', 'set', 'eth0', 'mtu', '100']);
    undo.push(() => inNetns(nginx.pid, ['ip', 'link', 'set', 'eth0', 'mtu', '1500']));
    const traffic = () => httpGets(port, 3, 800);
    // Changing the MTU also makes unrelated multicast drops inside nginx (IGMP, IPv6 DAD): match the place.
    const drop = await until(
      json,
      (r): r is DropRecord => isDrop(r) && r.reason === 'NOT_SPECIFIED' && fn(r.location) === '__dev_forward_skb2',
      traffic,
    );
    const line = await textLine(text, NGINX, '__dev_forward_skb2', traffic);
    expect(await json.stop()).toBe(0);
    const veth = hostVethOf(nginx.pid);
    expect(drop).toMatchObject({
      reason: 'NOT_SPECIFIED',
      netns: hostNs,
      ifname: veth,
      peer: { ifname: 'eth0', mtu: 100, netns: netnsInode(nginx.pid) },
      container: { id: nginx.id, name: NGINX },
      container_via: 'veth-peer',
    });
    expect(fn(drop.location)).toBe('__dev_forward_skb2');
    sample('2 mtu (json)', lineOf(json, drop));
    sample('2 mtu (text)', line);
  });

  it('DROP in DOCKER-USER for nginx, from a client namespace through FORWARD: NETFILTER_DROP via address', async () => {
    const json = await trace(['--json', '--container', NGINX]);
    const text = await trace(['--container', NGINX]);
    const client = makeClient();
    undo.push(client.cleanup);
    const ip = ipOf(NGINX);
    undo.push(hostRule('DOCKER-USER', ['-s', client.addr, '-d', ip, '-j', 'DROP']));
    const traffic = () => client.send(ip, 80);
    const drop = await until(json, (r): r is DropRecord => isDrop(r) && r.reason === 'NETFILTER_DROP', traffic);
    const line = await textLine(text, NGINX, 'NETFILTER_DROP', traffic);
    const named = await namedRule(json, traffic);
    // the rule is the host's, not nginx's: the hint does not say "in nginx's namespace"
    expect(named?.hint).toMatch(
      new RegExp(
        `^dropped by iptables rule \`-A DOCKER-USER -s ${client.addr.replace(/\./g, '\\.')}/32 -d ${ip.replace(/\./g, '\\.')}/32 .*-j DROP\`$`,
      ),
    );
    expect(named).toMatchObject({ component: 'iptables', container_via: 'address' });
    expect(await json.stop()).toBe(0);
    expect(drop).toMatchObject({
      reason: 'NETFILTER_DROP',
      layer: 'netfilter',
      netns: hostNs,
      saddr: client.addr,
      daddr: ip,
      dport: 80,
      container: { id: nginx.id, name: NGINX },
      container_via: 'address',
    });
    sample('3 docker-user (json)', lineOf(json, drop));
    sample('3 docker-user, rule named (json)', lineOf(json, named as DropRecord));
    sample('3 docker-user (text)', line);
  });

  it('drops made in the bystander never appear under --container nginx, and do under --container dtattr-bystander', async () => {
    const mine = await trace(['--json', '--container', NGINX]);
    const theirs = await trace(['--json', '--container', BYSTANDER]);
    const [byNs, byIp] = [netnsInode(bystander.pid), ipOf(BYSTANDER)];
    const [ngNs, ngIp] = [netnsInode(nginx.pid), ipOf(NGINX)];
    const closed =
      (ns: number) =>
      (r: DroptraceRecord): r is DropRecord =>
        isDrop(r) && r.reason === 'NO_SOCKET' && r.netns === ns && r.proto === 'udp' && r.dport === CLOSED_PORT;
    const theirFirst = await until(theirs, closed(byNs), () => udpBurst(bystander.pid, byIp, CLOSED_PORT));
    // the nginx run is live (it sees nginx's own drop) while the bystander keeps dropping
    const ours = await until(mine, closed(ngNs), () => udpBurst(nginx.pid, ngIp, CLOSED_PORT));
    udpBurst(bystander.pid, byIp, CLOSED_PORT);
    await until(
      theirs,
      (r): r is DropRecord => closed(byNs)(r) && r.time > ours.time,
      () => undefined,
    );
    expect(await mine.stop()).toBe(0);
    expect(await theirs.stop()).toBe(0);

    expect(theirFirst).toMatchObject({
      layer: 'transport',
      container: { id: bystander.id, name: BYSTANDER, runtime: 'docker', pid: bystander.pid },
      container_via: 'netns',
    });
    expect(ours).toMatchObject({ container: { id: nginx.id, name: NGINX }, container_via: 'netns' });
    const bystanderish = (d: DropRecord) =>
      d.netns === byNs || d.peer?.netns === byNs || d.saddr === byIp || d.daddr === byIp || d.container?.name !== NGINX;
    expect(mine.drops().filter(bystanderish)).toEqual([]);
    expect(theirs.drops().filter(closed(byNs)).length).toBeGreaterThanOrEqual(2);
    expect(theirs.drops().filter((d) => d.container?.name !== BYSTANDER)).toEqual([]);
    sample('4 bystander, under --container dtattr-bystander (json)', lineOf(theirs, theirFirst));
  });

  it('the library: trace({ container: [nginx] }) names the container in its events, as the CLI does', async () => {
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = engine!.env.DOCKER_HOST;
    undo.push(() => {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    });
    const t = await traceLib({ container: [NGINX] });
    undo.push(() => t.stop());
    const ns = netnsInode(nginx.pid);
    const timer = setInterval(() => udpBurst(nginx.pid, '127.0.0.1', CLOSED_PORT), 300);
    undo.push(() => clearInterval(timer));
    let drop: DropRecord | undefined;
    const deadline = setTimeout(() => t.stop(), 15_000);
    for await (const r of t) {
      if (r.type === 'drop' && r.reason === 'NO_SOCKET' && r.dport === CLOSED_PORT) {
        drop = r;
        break;
      }
    }
    clearTimeout(deadline);
    expect(t.start.filter).toMatchObject({ netns: [ns] });
    expect(drop).toMatchObject({
      netns: ns,
      layer: 'transport',
      container: { id: nginx.id, name: NGINX, runtime: 'docker', pid: nginx.pid },
      container_via: 'netns',
    });
    expect(drop?.hint).toMatch(/ in nginx$/);
  });

  it('droptrace containers --json lists nginx with its netns, addresses and host-side veth', () => {
    const r = spawnSync(process.execPath, [BIN, 'containers', '--json'], { env: engine!.env, encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    const row = rows.find((x) => x.name === NGINX);
    expect(row).toMatchObject({
      id: nginx.id,
      runtime: 'docker',
      image: IMAGE,
      running: true,
      pid: nginx.pid,
      netns: Number(run('stat', ['-L', '-c', '%i', `/proc/${nginx.pid}/ns/net`]).trim()),
      veth: [{ inner: 'eth0', host: hostVethOf(nginx.pid) }],
    });
    expect(row?.addresses).toContain(ipOf(NGINX));
    expect(rows.find((x) => x.name === BYSTANDER)).toMatchObject({ id: bystander.id, netns: netnsInode(bystander.pid) });
    sample('7 containers --json (nginx row)', JSON.stringify(row));
  });

  it('an unknown --container exits 2 with ERR_DROPTRACE_CONTAINER_UNKNOWN and lists the running containers', async () => {
    const r = await DroptraceRun.run(['--json', '--container', 'nope', '--duration', '1'], engine!.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('ERR_DROPTRACE_CONTAINER_UNKNOWN');
    expect(r.stderr).toContain(NGINX);
    expect(r.stderr).toContain(BYSTANDER);
    expect(r.records.filter((x) => x.type === 'drop')).toEqual([]);
    sample('8 unknown container (stderr)', r.stderr.trim());
  });

  it('the procfs fallback alone (Docker API unreachable) names the container by its short id', async () => {
    const env = { ...process.env, DOCKER_HOST: 'unix:///nonexistent.sock' };
    const short = nginx.id.slice(0, 12);
    const json = await trace(['--json', '--container', short], env);
    const ns = netnsInode(nginx.pid);
    const drop = await until(
      json,
      (r): r is DropRecord => isDrop(r) && r.reason === 'NO_SOCKET' && r.netns === ns && r.dport === CLOSED_PORT,
      () => udpBurst(nginx.pid, '127.0.0.1', CLOSED_PORT),
    );
    expect(await json.stop()).toBe(0);
    expect(drop).toMatchObject({
      layer: 'transport',
      container: { id: nginx.id, name: short, runtime: 'docker', image: null, pid: nginx.pid },
      container_via: 'netns',
    });
    // the user is told why containers carry ids only
    expect(json.stderr).toMatch(/warning \[ERR_DROPTRACE_CONTAINER_API\].*nonexistent\.sock/);
    // nothing came from the API: no drop carries the container's real name
    expect(json.drops().filter((d) => d.container?.name !== short)).toEqual([]);
    sample('6 procfs fallback (json)', lineOf(json, drop));
    sample('6 procfs fallback (stderr)', json.stderr.trim());
  });

  it('docker restart nginx while tracing: drops after the restart are still reported as nginx', async () => {
    const json = await trace(['--json', '--container', NGINX]);
    const text = await trace(['--container', NGINX]);
    const closedIn =
      (ns: number) =>
      (r: DroptraceRecord): r is DropRecord =>
        isDrop(r) && r.reason === 'NO_SOCKET' && r.netns === ns && r.dport === CLOSED_PORT;
    const before = await until(json, closedIn(netnsInode(nginx.pid)), () => udpBurst(nginx.pid, '127.0.0.1', CLOSED_PORT));

    // the text run's first nginx line after the restart began is a post-restart one
    const textFrom = text.stdout.length;
    engine!.docker(['restart', '-t', '2', NGINX]);
    nginx = { ...nginx, pid: engine!.pidOf(NGINX) };
    expect(nginx.pid).not.toBe(before.container?.pid);
    const ns = netnsInode(nginx.pid);
    await waitForText(() => json.stderr, /nginx (restarted|is running)/);
    const after = await until(
      json,
      (r): r is DropRecord => closedIn(ns)(r) && r.container?.pid === nginx.pid,
      () => udpBurst(nginx.pid, '127.0.0.1', CLOSED_PORT),
    );
    const line = await textLine(text, NGINX, 'NO_SOCKET', () => udpBurst(nginx.pid, '127.0.0.1', CLOSED_PORT), textFrom);
    expect(await json.stop()).toBe(0);
    expect(after).toMatchObject({
      layer: 'transport',
      container: { id: nginx.id, name: NGINX, pid: nginx.pid },
      container_via: 'netns',
    });
    expect(after.time > before.time).toBe(true);
    expect(json.stderr).toMatch(/nginx (restarted|is running): pid \d+, netns \d+/);
    // the stream says so too: a container_state record (schema-checked by records()) for the new incarnation
    const states = json.records().filter((r): r is ContainerStateRecord => r.type === 'container_state');
    expect(states.find((r) => r.state !== 'stopped')).toMatchObject({ spec: NGINX, netns: ns, container: { name: NGINX, pid: nginx.pid } });
    sample('5 restart (json, after the restart)', lineOf(json, after));
    sample('5 restart (stderr)', json.stderr.trim());
    sample('5 restart (text)', line);
  });
});
