/**
 * Synchronous process and mount helpers for the engines the tests start (dockerd, containerd):
 * their teardown runs in exit and signal handlers too, where nothing asynchronous finishes.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface ShOptions {
  input?: string;
  allowFail?: boolean;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/** Runs a command to its end; a non-zero status throws with its stderr unless `allowFail`. */
export function sh(cmd: string, args: string[], opts: ShOptions = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, {
    input: opts.input,
    encoding: 'utf8',
    env: opts.env ?? process.env,
    timeout: opts.timeoutMs ?? 120_000,
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0 && !opts.allowFail) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${(r.stderr ?? '').trim() || r.error?.message}`);
  }
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * A zombie counts as gone: the engine is our child, and while teardown waits synchronously the
 * event loop cannot reap it, so kill(pid, 0) alone would report it alive forever.
 */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Stops a process we started: TERM, then KILL after `graceMs`. Only ever by PID. */
export function stopPid(pid: number, graceMs: number): void {
  if (!alive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {}
  const until = Date.now() + graceMs;
  while (alive(pid) && Date.now() < until) sleepSync(50);
  if (alive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
    const hard = Date.now() + 5000;
    while (alive(pid) && Date.now() < hard) sleepSync(20);
  }
}

/** Lazily unmounts everything mounted at or below `dir`, deepest first. */
export function unmountBelow(dir: string): void {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => m !== undefined && (m === dir || m.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) sh('umount', ['-l', m], { allowFail: true });
}
