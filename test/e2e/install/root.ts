/**
 * Packing droptrace from a clean clone, and running commands inside a minimal Debian root
 * (roots.sh) that shares this machine's kernel.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const ROOTS_SH = fileURLToPath(new URL('./roots.sh', import.meta.url));

/** A clean environment for commands in the root: nothing of the host's npm or vitest leaks in. */
export const ROOT_ENV: NodeJS.ProcessEnv = { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', HOME: '/root', LANG: 'C.UTF-8' };

function sh(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): string {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 300_000,
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${(r.stdout ?? '').slice(-2000)}\n${(r.stderr ?? '').slice(-4000)}`,
    );
  }
  return r.stdout;
}

/**
 * `npm pack` in a fresh clone of this checkout's HEAD, as a release would be made: the prepack
 * script builds the BPF object, dist/ and the prebuilt addon there. npm's cache (filled by
 * `npm install` in set-up) serves the clone's install; the static libraries' cache is shared
 * with this checkout.
 */
export function packFromClone(workDir: string): { tarball: string; files: string[]; bytes: number } {
  const src = join(workDir, 'src');
  sh('git', ['clone', '--quiet', '--no-hardlinks', REPO, src]);
  sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: src });
  const env = { ...process.env, DROPTRACE_DEPS_DIR: process.env.DROPTRACE_DEPS_DIR ?? join(REPO, 'native', 'deps') };
  const out = join(workDir, 'pack');
  mkdirSync(out);
  // the prepack scripts' own output comes first on stdout; npm's JSON report is the last thing
  const stdout = sh('npm', ['pack', '--json', '--pack-destination', out], { cwd: src, env });
  const json = JSON.parse(stdout.slice(stdout.lastIndexOf('\n[\n') + 1)) as {
    filename: string;
    size: number;
    files: { path: string }[];
  }[];
  const [pkg] = json;
  return { tarball: join(out, pkg.filename), files: pkg.files.map((f) => f.path), bytes: pkg.size };
}

/** Makes `roots.sh <mode>` in a new directory under workDir and returns its path. */
export function makeRoot(workDir: string, mode: 'node' | 'toolchain'): string {
  const root = mkdtempSync(join(workDir, `${mode}-`));
  sh('bash', [ROOTS_SH, mode, root], { timeoutMs: 600_000 });
  return root;
}

/**
 * The argv that runs `argv` chrooted in `root`, in a private mount namespace that sees the
 * host's /proc, /sys (BTF, tracefs, bpffs) and /dev, and /run/netns for `ip netns` names: the
 * mounts end with the process. `net: false` also gives it an empty network namespace.
 */
export function inRoot(root: string, argv: string[], opts: { net?: boolean } = {}): string[] {
  for (const d of ['proc', 'sys', 'dev', 'run/netns']) mkdirSync(join(root, d), { recursive: true });
  const mounts = [
    'mount --rbind /proc "$0/proc"',
    'mount --rbind /sys "$0/sys"',
    'mount --rbind /dev "$0/dev"',
    '{ [ ! -d /run/netns ] || mount --rbind /run/netns "$0/run/netns"; }',
    'exec chroot "$0" "$@"',
  ].join(' && ');
  const unshare = ['unshare', '--mount', '--propagation', 'private', ...(opts.net === false ? ['--net'] : [])];
  return [...unshare, 'sh', '-c', mounts, root, ...argv];
}

/** Runs a command in the root to its end; throws with its output when it fails. */
export function runInRoot(root: string, argv: string[], opts: { net?: boolean } = {}): string {
  const [cmd, ...args] = inRoot(root, argv, opts);
  return sh(cmd, args, { env: ROOT_ENV });
}

/** Which of `programs` the root has on its PATH. */
export function programsIn(root: string, programs: string[]): string[] {
  const script = programs.map((p) => `command -v ${p} || true`).join('; ');
  return execFileSync('chroot', [root, '/bin/sh', '-c', script], { encoding: 'utf8', env: ROOT_ENV }).split('\n').filter(Boolean);
}

/** Shared objects in the root whose file names start with one of `prefixes`. */
export function librariesIn(root: string, prefixes: string[]): string[] {
  const found: string[] = [];
  for (const dir of ['usr/lib', 'usr/lib/x86_64-linux-gnu', 'usr/local/lib', 'lib']) {
    let names: string[];
    try {
      names = readdirSync(join(root, dir));
    } catch {
      continue;
    }
    for (const n of names) if (prefixes.some((p) => n.startsWith(p)) && n.includes('.so')) found.push(`/${dir}/${n}`);
  }
  return found;
}
