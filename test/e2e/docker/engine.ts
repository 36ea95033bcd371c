/**
 * A real, private Docker engine for e2e tests: dockerd from Debian's docker.io with its own
 * data root, exec root, pidfile and socket under one temporary directory, so it never meets
 * another engine's state. Clients find it through `engine.env.DOCKER_HOST`.
 *
 * dockerd changes the host (ip_forward, the FORWARD policy, docker0, iptables chains in the
 * filter and nat tables) and leaves most of it behind when stopped. start() records the host's
 * state first, in a lock file, and teardown() puts it back; a later start() finding the lock of a
 * process that died puts back what that run recorded. The lock also keeps two test files from
 * running two engines at once (they would fight over docker0 and the DOCKER chains).
 *
 * The docker CLI is used here, in tests only; src/ talks to the API.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { alive, sh, stopPid, unmountBelow } from '../../helpers/sync-proc.js';

const LOCK = '/run/droptrace-e2e-dockerd.lock';
export const DOCKER = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
export const IMAGE = 'dtctr-busybox:latest';
/** Chains and rules dockerd makes carry one of these. */
const DOCKERISH = /DOCKER|docker0/;

export interface RunOptions {
  /** Publish container port 80 on 127.0.0.1:<hostPort>. */
  hostPort?: number;
  image?: string;
  /** Extra `docker run` arguments before the image. */
  args?: string[];
  /** Command after the image (default: the image's httpd). */
  cmd?: string[];
}

export interface RunningContainer {
  id: string;
  name: string;
  pid: number;
  startMs: number;
}

interface HostState {
  ipForward: string;
  ip6Forward: string;
  forwardPolicy: { iptables: string | null; ip6tables: string | null };
  /** `iptables -S` lines per command and table before dockerd ran. */
  rules: Record<string, string[]>;
  bridgeExisted: boolean;
}

interface LockState {
  owner: number;
  dir: string;
  dockerdPid: number | null;
  host: HostState;
}

function readSysctl(path: string): string {
  return readFileSync(path, 'utf8').trim();
}

const IPV4_FORWARD = '/proc/sys/net/ipv4/ip_forward';
const IPV6_FORWARD = '/proc/sys/net/ipv6/conf/all/forwarding';
const TABLES: Array<[string, string]> = [
  ['iptables', 'filter'],
  ['iptables', 'nat'],
  ['ip6tables', 'filter'],
  ['ip6tables', 'nat'],
];

function listRules(cmd: string, table: string): string[] {
  const r = sh(cmd, ['-w', '-t', table, '-S'], { allowFail: true });
  return r.code === 0 ? r.stdout.split('\n').filter((l) => l !== '') : [];
}

function forwardPolicy(cmd: string): string | null {
  const line = listRules(cmd, 'filter').find((l) => l.startsWith('-P FORWARD '));
  return line ? line.split(' ')[2] : null;
}

function captureHost(bridge: string): HostState {
  const rules: Record<string, string[]> = {};
  for (const [cmd, table] of TABLES) rules[`${cmd}/${table}`] = listRules(cmd, table);
  return {
    ipForward: readSysctl(IPV4_FORWARD),
    ip6Forward: readSysctl(IPV6_FORWARD),
    forwardPolicy: { iptables: forwardPolicy('iptables'), ip6tables: forwardPolicy('ip6tables') },
    rules,
    bridgeExisted: existsSync(`/sys/class/net/${bridge}`),
  };
}

/** Splits an `iptables -S` line into arguments (it double-quotes arguments with spaces). */
function splitRule(line: string): string[] {
  return (line.match(/"(?:[^"\\]|\\.)*"|\S+/g) ?? []).map((a) => (a.startsWith('"') ? a.slice(1, -1).replace(/\\"/g, '"') : a));
}

/** Puts back what dockerd changed: only rules and chains that are new since `host` and are dockerd's. */
function restoreHost(host: HostState, bridge: string): string[] {
  const problems: string[] = [];
  for (const [cmd, table] of TABLES) {
    const before = new Set(host.rules[`${cmd}/${table}`] ?? []);
    const now = listRules(cmd, table);
    const added = now.filter((l) => !before.has(l) && (DOCKERISH.test(l) || l.includes(bridge)));
    for (const l of added.filter((l) => l.startsWith('-A '))) {
      const r = sh(cmd, ['-w', '-t', table, '-D', ...splitRule(l).slice(1)], { allowFail: true });
      if (r.code !== 0) problems.push(`${cmd} -t ${table} ${l}: ${r.stderr.trim()}`);
    }
    for (const l of added.filter((l) => l.startsWith('-N '))) {
      const chain = l.slice(3);
      sh(cmd, ['-w', '-t', table, '-F', chain], { allowFail: true });
      const r = sh(cmd, ['-w', '-t', table, '-X', chain], { allowFail: true });
      if (r.code !== 0) problems.push(`${cmd} -t ${table} -X ${chain}: ${r.stderr.trim()}`);
    }
  }
  if (host.forwardPolicy.iptables) sh('iptables', ['-w', '-P', 'FORWARD', host.forwardPolicy.iptables], { allowFail: true });
  if (host.forwardPolicy.ip6tables) sh('ip6tables', ['-w', '-P', 'FORWARD', host.forwardPolicy.ip6tables], { allowFail: true });
  if (!host.bridgeExisted && existsSync(`/sys/class/net/${bridge}`)) sh('ip', ['link', 'del', bridge], { allowFail: true });
  // Forwarding last: the host's routing is as it was only once the rules are gone.
  writeFileSync(IPV4_FORWARD, host.ipForward);
  writeFileSync(IPV6_FORWARD, host.ip6Forward);
  return problems;
}

/** The containerd dockerd started for itself, recognisable by our exec root on its command line. */
function managedContainerdPid(dir: string): number | null {
  try {
    const pid = Number(readFileSync(join(dir, 'exec', 'containerd', 'containerd.pid'), 'utf8').trim());
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes(dir) ? pid : null;
  } catch {
    return null;
  }
}

function teardownState(state: LockState, bridge: string): string[] {
  const ctrd = managedContainerdPid(state.dir);
  if (state.dockerdPid !== null) stopPid(state.dockerdPid, 15_000);
  if (ctrd !== null) stopPid(ctrd, 5_000);
  unmountBelow(state.dir);
  const problems = restoreHost(state.host, bridge);
  rmSync(state.dir, { recursive: true, force: true });
  return problems;
}

function readLock(): LockState | null {
  try {
    return JSON.parse(readFileSync(LOCK, 'utf8')) as LockState;
  } catch {
    return null;
  }
}

/** Takes the machine-wide engine lock, waiting for a live holder and cleaning up after a dead one. */
async function takeLock(state: LockState, bridge: string, waitMs: number): Promise<void> {
  const until = Date.now() + waitMs;
  for (;;) {
    try {
      writeFileSync(LOCK, JSON.stringify(state), { flag: 'wx' });
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const held = readLock();
    if (held && !alive(held.owner)) {
      teardownState(held, bridge);
      try {
        unlinkSync(LOCK);
      } catch {}
      continue;
    }
    if (Date.now() > until) throw new Error(`another test's Docker engine holds ${LOCK} (pid ${held?.owner})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const live = new Set<DockerEngine>();
let exitHook = false;

export interface EngineTimings {
  /** spawn to first successful ping */
  engineStartMs: number;
  imageImportMs: number;
}

export class DockerEngine {
  readonly dir: string;
  readonly socketPath: string;
  readonly env: NodeJS.ProcessEnv;
  readonly bridge = 'docker0';
  readonly timings: EngineTimings = { engineStartMs: Number.NaN, imageImportMs: Number.NaN };
  pid: number | null = null;
  private state: LockState | null = null;
  private torn = false;

  private constructor() {
    this.dir = mkdtempSync('/tmp/dtctr-');
    this.socketPath = join(this.dir, 'docker.sock');
    this.env = { ...process.env, DOCKER_HOST: `unix://${this.socketPath}` };
  }

  /** Starts dockerd and imports the busybox image. Tears down again if any of it fails. */
  static async start(opts: { lockWaitMs?: number } = {}): Promise<DockerEngine> {
    const engine = new DockerEngine();
    try {
      await engine.boot(opts.lockWaitMs ?? 300_000);
      await engine.importImage();
      return engine;
    } catch (e) {
      const log = engine.log();
      await engine.teardown();
      throw new Error(`docker engine failed to start: ${(e as Error).message}\n--- dockerd log ---\n${log.slice(-3000)}`, {
        cause: e,
      });
    }
  }

  private async boot(lockWaitMs: number): Promise<void> {
    this.state = { owner: process.pid, dir: this.dir, dockerdPid: null, host: captureHost(this.bridge) };
    await takeLock(this.state, this.bridge, lockWaitMs);
    // The host state is re-read under the lock: the previous holder may just have restored it.
    this.state.host = captureHost(this.bridge);
    live.add(this);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', () => {
        for (const e of live) e.teardownSync();
      });
    }
    for (const d of ['data', 'exec']) mkdirSync(join(this.dir, d));
    const logPath = join(this.dir, 'dockerd.log');
    const logFd = openSync(logPath, 'a');
    const t0 = performance.now();
    const child = spawn(
      'dockerd',
      [
        '--userland-proxy=false',
        '--data-root',
        join(this.dir, 'data'),
        '--exec-root',
        join(this.dir, 'exec'),
        '--pidfile',
        join(this.dir, 'docker.pid'),
        '-H',
        `unix://${this.socketPath}`,
      ],
      // A file, not a pipe: the docker CLI runs with spawnSync, and a dockerd blocked on a full
      // pipe that nobody reads while we wait for the CLI would deadlock both.
      { stdio: ['ignore', logFd, logFd] },
    );
    closeSync(logFd);
    if (child.pid === undefined) throw new Error('dockerd did not start');
    this.pid = child.pid;
    this.state.dockerdPid = child.pid;
    writeFileSync(LOCK, JSON.stringify(this.state));
    this.log = () => {
      try {
        return readFileSync(logPath, 'utf8');
      } catch {
        return '';
      }
    };
    let exited: string | null = null;
    child.on('exit', (code, signal) => {
      exited = `dockerd exited (${code ?? signal})`;
    });
    child.unref();
    const until = Date.now() + 30_000;
    for (;;) {
      if (exited) throw new Error(exited);
      const r = spawnSync(DOCKER, ['version', '--format', '{{.Server.Version}}'], { env: this.env, encoding: 'utf8' });
      if (r.status === 0) break;
      if (Date.now() > until) throw new Error('dockerd did not answer within 30 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    this.timings.engineStartMs = performance.now() - t0;
  }

  log: () => string = () => '';

  /** Runs the docker CLI against this engine. */
  docker(args: string[], opts: { input?: string; allowFail?: boolean; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}) {
    return sh(DOCKER, args, { ...opts, env: { ...this.env, ...opts.env } });
  }

  /** A busybox root file system whose httpd serves /www/index.html, imported as IMAGE. */
  private async importImage(): Promise<void> {
    const t0 = performance.now();
    const root = join(this.dir, 'rootfs');
    mkdirSync(join(root, 'bin'), { recursive: true });
    copyFileSync('/bin/busybox', join(root, 'bin', 'busybox'));
    for (const applet of sh('/bin/busybox', ['--list-full']).stdout.split('\n')) {
      if (applet === '' || applet === 'bin/busybox') continue;
      mkdirSync(join(root, applet, '..'), { recursive: true });
      if (!existsSync(join(root, applet))) symlinkSync('/bin/busybox', join(root, applet));
    }
    for (const d of ['www', 'tmp', 'proc', 'sys', 'dev', 'etc']) mkdirSync(join(root, d), { recursive: true });
    writeFileSync(join(root, 'www', 'index.html'), '<h1>droptrace test</h1>\n');
    const tar = join(this.dir, 'rootfs.tar');
    sh('tar', ['-C', root, '-cf', tar, '.']);
    this.docker(['import', '--change', 'CMD ["/usr/sbin/httpd","-f","-p","80","-h","/www"]', tar, IMAGE]);
    rmSync(root, { recursive: true, force: true });
    rmSync(tar, { force: true });
    this.timings.imageImportMs = performance.now() - t0;
  }

  /** `docker run -d --init --name <name>` (published on 127.0.0.1 when hostPort is given). */
  runContainer(name: string, opts: RunOptions = {}): RunningContainer {
    const args = ['run', '-d', '--init', '--name', name];
    if (opts.hostPort !== undefined) args.push('-p', `127.0.0.1:${opts.hostPort}:80`);
    args.push(...(opts.args ?? []), opts.image ?? IMAGE, ...(opts.cmd ?? []));
    const t0 = performance.now();
    const id = this.docker(args).stdout.trim();
    const startMs = performance.now() - t0;
    return { id, name, pid: this.pidOf(name), startMs };
  }

  /** State.Pid of a running container (the `--init` process). */
  pidOf(name: string): number {
    const pid = Number(this.docker(['inspect', '--format', '{{.State.Pid}}', name]).stdout.trim());
    if (!(pid > 0)) throw new Error(`container ${name} is not running`);
    return pid;
  }

  async teardown(): Promise<string[]> {
    return this.teardownSync();
  }

  /** Removes containers, stops dockerd by PID, and puts the host back; returns what could not be undone. */
  teardownSync(): string[] {
    if (this.torn) return [];
    this.torn = true;
    live.delete(this);
    if (this.pid !== null && alive(this.pid)) {
      const ids = this.docker(['ps', '-aq'], { allowFail: true }).stdout.split('\n').filter(Boolean);
      if (ids.length) this.docker(['rm', '-f', ...ids], { allowFail: true });
    }
    if (!this.state) {
      rmSync(this.dir, { recursive: true, force: true });
      return [];
    }
    const problems = teardownState(this.state, this.bridge);
    const held = readLock();
    if (held?.owner === process.pid && held.dir === this.dir) {
      try {
        unlinkSync(LOCK);
      } catch {}
    }
    return problems;
  }
}
