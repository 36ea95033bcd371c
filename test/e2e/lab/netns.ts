/**
 * A throwaway two-namespace network for e2e tests: namespaces `<prefix>-<id>-a` and `-b`
 * joined by one veth pair, IPv4 and IPv6 addresses on each end, loopback up.
 * Every process started through the Lab is tracked by PID so that destroy() ends exactly
 * those and nothing else; destroy() then deletes the namespaces (and with them the veths).
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';

export type Side = 'a' | 'b';

export interface LabEnd {
  /** `ip netns` name. */
  ns: string;
  /** Inode of /run/netns/<ns>: what the kernel reports as the netns of a drop. */
  inode: number;
  ifname: string;
  ifindex: number;
  mac: string;
  mtu: number;
  ipv4: string;
  ipv6: string;
}

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Kill the program after this long (default 10 s). */
  timeoutMs?: number;
  /** Resolve instead of throwing when the program exits non-zero. */
  allowFail?: boolean;
  input?: string;
}

/** Where the traffic programs live; python3 from Debian when present (a pyenv shim is slow). */
export const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
export const TRAFFIC_PY = new URL('./traffic.py', import.meta.url).pathname;

const live = new Set<Lab>();
let exitHookInstalled = false;

/** Last-resort clean-up when the test process exits without calling destroy(). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const lab of live) lab.destroySync();
  });
}

function run(cmd: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      { timeout: opts.timeoutMs ?? 10_000, killSignal: 'SIGKILL', maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const code = child.exitCode;
        const signal = child.signalCode;
        const res: ExecResult = { code, signal, stdout: String(stdout), stderr: String(stderr) };
        if ((err || code !== 0) && !opts.allowFail) {
          reject(
            new Error(`${cmd} ${args.join(' ')} failed (code ${code}, signal ${signal}): ${String(stderr).trim()}`, {
              cause: err ?? undefined,
            }),
          );
          return;
        }
        resolve(res);
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

function randomId(): string {
  return randomBytes(3).toString('hex');
}

function nsInode(ns: string): number {
  return statSync(`/run/netns/${ns}`).ino;
}

interface LinkInfo {
  ifindex: number;
  address: string;
  mtu: number;
}

export class Lab {
  readonly prefix: string;
  readonly id: string;
  readonly a: LabEnd;
  readonly b: LabEnd;
  /** IPv4 network of the veth, e.g. 10.231.17.0/24. */
  readonly net4: string;
  /** IPv6 network of the veth, e.g. fd00:3a:9c1e::/64. */
  readonly net6: string;
  /** Namespaces added with addNamespace(), by key. */
  readonly extra = new Map<string, { ns: string; inode: number }>();

  private readonly children = new Map<number, ChildProcess>();
  private readonly namespaces: string[] = [];
  private destroyed = false;

  private constructor(prefix: string, id: string, a: LabEnd, b: LabEnd, net4: string, net6: string) {
    this.prefix = prefix;
    this.id = id;
    this.a = a;
    this.b = b;
    this.net4 = net4;
    this.net6 = net6;
  }

  /**
   * Makes the two namespaces and the veth. Throws (after cleaning up what it made) when any step fails.
   * `prefix` is lower-case letters, digits and dashes; its first 4 characters start the ifnames.
   */
  static async create(prefix: string): Promise<Lab> {
    if (!/^[a-z][a-z0-9-]{0,30}$/.test(prefix)) throw new Error(`bad lab prefix ${JSON.stringify(prefix)}`);
    installExitHook();
    const id = randomId();
    const r = randomBytes(4);
    const o2 = 200 + (r[0] % 56);
    const o3 = r[1];
    const h6 = r.readUInt16BE(2).toString(16);
    const net4 = `10.${o2}.${o3}.0/24`;
    // RFC 5952 text (no leading zeros in a group), as droptrace prints addresses
    const g6 = Number.parseInt(id.slice(0, 4), 16).toString(16);
    const net6 = `fd00:${g6}:${h6}::/64`;
    const short = prefix.replace(/-/g, '').slice(0, 4) + id; // 10 chars + 'a'/'b' = at most 11
    const names = { a: `${prefix}-${id}-a`, b: `${prefix}-${id}-b` };
    const ifn = { a: `${short}a`, b: `${short}b` };

    const made: string[] = [];
    const partial = {
      destroySync() {
        for (const ns of made) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      },
    };
    try {
      for (const side of ['a', 'b'] as const) {
        await run('ip', ['netns', 'add', names[side]]);
        made.push(names[side]);
      }
      await run('ip', ['link', 'add', ifn.a, 'netns', names.a, 'type', 'veth', 'peer', 'name', ifn.b, 'netns', names.b]);
      const host = { a: 1, b: 2 };
      const ends = {} as Record<Side, LabEnd>;
      for (const side of ['a', 'b'] as const) {
        const ns = names[side];
        const ipv4 = `10.${o2}.${o3}.${host[side]}`;
        const ipv6 = `fd00:${g6}:${h6}::${host[side]}`;
        // one `ip -batch` per namespace: each ip command is a fork and a netlink socket close
        const batch = [
          'link set lo up',
          `addr add ${ipv4}/24 dev ${ifn[side]}`,
          `addr add ${ipv6}/64 dev ${ifn[side]} nodad`,
          `link set ${ifn[side]} up`,
        ].join('\n');
        await run('ip', ['-n', ns, '-batch', '-'], { input: `${batch}\n` });
        // IPv4 conf/all is inherited from the host's: pin what the scenarios assume
        await run('ip', [
          'netns',
          'exec',
          ns,
          'sysctl',
          '-qw',
          'net.ipv4.conf.all.rp_filter=0',
          `net.ipv4.conf.${ifn[side]}.rp_filter=0`,
          'net.ipv4.conf.all.forwarding=0',
        ]);
        const info = JSON.parse((await run('ip', ['-n', ns, '-j', 'link', 'show', 'dev', ifn[side]])).stdout) as LinkInfo[];
        ends[side] = {
          ns,
          inode: nsInode(ns),
          ifname: ifn[side],
          ifindex: info[0].ifindex,
          mac: info[0].address,
          mtu: info[0].mtu,
          ipv4,
          ipv6,
        };
      }
      const lab = new Lab(prefix, id, ends.a, ends.b, net4, net6);
      lab.namespaces.push(...made);
      live.add(lab);
      return lab;
    } catch (err) {
      partial.destroySync();
      throw err;
    }
  }

  /** The end for a side, or an added namespace's name for its key. */
  nsName(key: string): string {
    if (key === 'a' || key === 'b') return this[key].ns;
    const e = this.extra.get(key);
    if (!e) throw new Error(`no namespace ${key} in lab ${this.id}`);
    return e.ns;
  }

  inode(key: string): number {
    if (key === 'a' || key === 'b') return this[key].inode;
    return nsInode(this.nsName(key));
  }

  /** A further namespace (loopback up, no link), e.g. for netns-filter tests. Key: lower-case letters. */
  async addNamespace(key: string): Promise<{ ns: string; inode: number }> {
    if (!/^[c-z][a-z0-9]{0,7}$/.test(key) || this.extra.has(key)) throw new Error(`bad namespace key ${key}`);
    const ns = `${this.prefix}-${this.id}-${key}`;
    await run('ip', ['netns', 'add', ns]);
    this.namespaces.push(ns);
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const e = { ns, inode: nsInode(ns) };
    this.extra.set(key, e);
    return e;
  }

  /** Runs a program inside a namespace and waits for it; tracked so destroy() can end it. */
  exec(key: string, cmd: string, args: string[] = [], opts: ExecOptions = {}): Promise<ExecResult> {
    this.assertLive();
    const ns = this.nsName(key);
    return new Promise((resolve, reject) => {
      const child = execFile(
        'ip',
        ['netns', 'exec', ns, cmd, ...args],
        { timeout: opts.timeoutMs ?? 10_000, killSignal: 'SIGKILL', maxBuffer: 64 << 20 },
        (err, stdout, stderr) => {
          const res: ExecResult = {
            code: child.exitCode,
            signal: child.signalCode,
            stdout: String(stdout),
            stderr: String(stderr),
          };
          if ((err || child.exitCode !== 0) && !opts.allowFail) {
            reject(
              new Error(`[${ns}] ${cmd} ${args.join(' ')} failed (code ${res.code}, signal ${res.signal}): ${res.stderr.trim()}`, {
                cause: err ?? undefined,
              }),
            );
            return;
          }
          resolve(res);
        },
      );
      this.track(child);
      if (opts.input !== undefined) child.stdin?.end(opts.input);
    });
  }

  /**
   * Starts a program inside a namespace and returns at once. `ip netns exec` execs the program
   * in place, so child.pid is the program's own PID.
   */
  spawn(key: string, cmd: string, args: string[] = []): ChildProcess {
    this.assertLive();
    const child = spawn('ip', ['netns', 'exec', this.nsName(key), cmd, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.track(child);
    return child;
  }

  /** `ip -n <ns> <args>` (route, link, qdisc through `tc` use exec instead). */
  ip(key: string, args: string[]): Promise<ExecResult> {
    return run('ip', ['-n', this.nsName(key), ...args]);
  }

  /** PIDs of the programs started through this Lab that have not exited yet. */
  get pids(): number[] {
    return [...this.children.keys()];
  }

  /** Ends the Lab's own programs by PID, then deletes its namespaces. Idempotent; never throws. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    live.delete(this);
    const exits: Promise<void>[] = [];
    for (const [pid, child] of this.children) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      exits.push(
        new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 2000);
          child.once('exit', () => {
            clearTimeout(t);
            resolve();
          });
        }),
      );
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await Promise.all(exits);
    this.children.clear();
    for (const ns of this.namespaces) await run('ip', ['netns', 'del', ns], { allowFail: true });
  }

  /** For the process 'exit' hook, where nothing asynchronous runs. */
  destroySync(): void {
    this.destroyed = true;
    live.delete(this);
    for (const pid of this.children.keys()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    this.children.clear();
    for (const ns of this.namespaces) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  }

  private track(child: ChildProcess): void {
    const pid = child.pid;
    if (pid === undefined) return;
    this.children.set(pid, child);
    child.once('exit', () => this.children.delete(pid));
  }

  private assertLive(): void {
    if (this.destroyed) throw new Error(`lab ${this.id} is destroyed`);
  }
}
