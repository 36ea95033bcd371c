/**
 * Traffic and namespaces for the container-attribution e2e tests: HTTP through a published port,
 * UDP to a closed port inside a container, and a client namespace joined to the host by a veth
 * (the path an outside client takes: PREROUTING, FORWARD, docker0). Everything made here is
 * named with the `dtattr` prefix and undone by the returned cleanup, which never throws.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';

export const PREFIX = 'dtattr';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
}

/** Runs `args` in the network namespace of `pid` (nsenter: no mount namespace change). */
export function inNetns(pid: number, args: string[]): string {
  return run('nsenter', ['-t', String(pid), '-n', ...args]);
}

export function netnsInode(pid: number): number {
  return statSync(`/proc/${pid}/ns/net`).ino;
}

export const hostNetnsInode = (): number => statSync('/proc/self/ns/net').ino;

/**
 * `n` HTTP GETs to 127.0.0.1:port at once, each on its own connection; a padding header makes
 * every request larger than a 100-byte MTU. Resolves with how many got an answer.
 */
export async function httpGets(port: number, n: number, timeoutMs = 1500): Promise<number> {
  const one = () =>
    new Promise<boolean>((resolve) => {
      const req = request(
        { host: '127.0.0.1', port, path: '/', agent: false, timeout: timeoutMs, headers: { 'x-pad': 'p'.repeat(60) } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(true));
          res.on('error', () => resolve(false));
        },
      );
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
      req.end();
    });
  const results = await Promise.all(Array.from({ length: n }, one));
  return results.filter(Boolean).length;
}

const UDP_BURST = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(int(sys.argv[3])):
    try: s.sendto(b'droptrace', (sys.argv[1], int(sys.argv[2])))
    except OSError: pass
`;

/** UDP datagrams to addr:port from the network namespace of `pid` (a closed port: NO_SOCKET). */
export function udpBurst(pid: number, addr: string, port: number, count = 5): void {
  inNetns(pid, ['python3', '-c', UDP_BURST, addr, String(port), String(count)]);
}

const TCP_AND_UDP = `
import socket, sys
addr, port = sys.argv[1], int(sys.argv[2])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(5):
    try: u.sendto(b'droptrace', (addr, port))
    except OSError: pass
for _ in range(3):
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.settimeout(0.2)
    try: t.connect((addr, port))
    except OSError: pass
    t.close()
`;

/** The host ifname whose ifindex is the container's eth0 iflink, read in the container's own sysfs. */
export function hostVethOf(pid: number): string {
  const iflink = Number(run('nsenter', ['-t', String(pid), '-n', '-m', 'cat', '/sys/class/net/eth0/iflink']).trim());
  for (const name of readdirSync('/sys/class/net')) {
    try {
      if (Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8')) === iflink) return name;
    } catch {}
  }
  throw new Error(`no host device with ifindex ${iflink}`);
}

/** Our leftovers: links, named namespaces and host iptables rules carrying the prefix. */
export function leftovers(): string[] {
  const links = run('ip', ['-o', 'link', 'show'])
    .split('\n')
    .filter((l) => l.includes(PREFIX));
  const netns = run('ip', ['netns', 'list'])
    .split('\n')
    .filter((l) => l.includes(PREFIX));
  const rules = run('iptables-save', [])
    .split('\n')
    .filter((l) => l.includes(PREFIX));
  return [...links, ...netns, ...rules];
}

export interface Client {
  ns: string;
  hostIf: string;
  hostAddr: string;
  addr: string;
  /** TCP SYNs and UDP datagrams from the client to addr:port, forwarded by the host. */
  send(addr: string, port: number): void;
  cleanup(): void;
}

function quiet(cmd: string, args: string[]): void {
  spawnSync(cmd, args, { stdio: 'ignore', timeout: 30_000 });
}

/**
 * A namespace `dtattr-cli-<rand>` joined to the host by a veth: host side 10.239.<r>.1/30, client
 * .2/30 with its default route through the host. Forwarding is dockerd's (ip_forward=1).
 */
export function makeClient(): Client {
  const rand = randomBytes(2).toString('hex');
  const ns = `${PREFIX}-cli-${rand}`;
  const hostIf = `${PREFIX}-h${rand}`;
  const cliIf = `${PREFIX}-c${rand}`;
  const third = randomBytes(1)[0];
  const hostAddr = `10.239.${third}.1`;
  const addr = `10.239.${third}.2`;
  const cleanup = () => {
    quiet('ip', ['link', 'del', hostIf]);
    quiet('ip', ['netns', 'del', ns]);
  };
  try {
    run('ip', ['netns', 'add', ns]);
    run('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', cliIf, 'netns', ns]);
    run('ip', ['addr', 'add', `${hostAddr}/30`, 'dev', hostIf]);
    run('ip', ['link', 'set', hostIf, 'up']);
    const ipn = (...a: string[]) => run('ip', ['-n', ns, ...a]);
    ipn('link', 'set', 'lo', 'up');
    ipn('addr', 'add', `${addr}/30`, 'dev', cliIf);
    ipn('link', 'set', cliIf, 'up');
    ipn('route', 'add', 'default', 'via', hostAddr);
  } catch (e) {
    cleanup();
    throw e;
  }
  return {
    ns,
    hostIf,
    hostAddr,
    addr,
    send: (to, port) => {
      run('ip', ['netns', 'exec', ns, 'python3', '-c', TCP_AND_UDP, to, String(port)]);
    },
    cleanup,
  };
}

/** `iptables -I <chain> 1 <rule>` in the host's filter table; the cleanup deletes exactly that rule. */
export function hostRule(chain: string, rule: string[]): () => void {
  // The comment makes the rule ours beyond doubt, for -D and for the leftovers check.
  const tagged = [...rule, '-m', 'comment', '--comment', `${PREFIX}-${randomBytes(3).toString('hex')}`];
  run('iptables', ['-w', '-I', chain, '1', ...tagged]);
  return () => quiet('iptables', ['-w', '-D', chain, ...tagged]);
}
