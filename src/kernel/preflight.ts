/**
 * What the kernel and the process must offer before anything is loaded, each failure with a stable
 * code and a hint.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { DroptraceError } from '../errors.js';
import { permissionHint } from './capabilities.js';

const CAP_SYS_ADMIN = 21;
const CAP_PERFMON = 38;
const CAP_BPF = 39;

export function effectiveCaps(status = readFileSync('/proc/self/status', 'utf8')): bigint {
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  return hex ? BigInt(`0x${hex}`) : 0n;
}

export function checkPrivileges(caps = effectiveCaps()): void {
  const has = (cap: number) => (caps & (1n << BigInt(cap))) !== 0n;
  if (has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON))) return;
  throw new DroptraceError(
    'ERR_DROPTRACE_PERMISSION',
    'droptrace needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN) to load BPF programs',
    permissionHint(),
  );
}

export function checkBtf(path = '/sys/kernel/btf/vmlinux', kernel = release()): void {
  if (existsSync(path)) return;
  throw new DroptraceError(
    'ERR_DROPTRACE_KERNEL_NO_BTF',
    `kernel ${kernel} exposes no BTF (${path} is missing): CO-RE programs cannot be placed`,
    'droptrace needs a kernel built with CONFIG_DEBUG_INFO_BTF=y (most distributions since 2021; Linux 5.17 or newer for drop reasons)',
  );
}

const TRACEFS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];

/** Classic tracepoints are found through tracefs: mount it when it is not, or say how. */
export function ensureTracefs(): void {
  if (TRACEFS.some((dir) => existsSync(`${dir}/events`))) return;
  try {
    execFileSync('mount', ['-t', 'tracefs', 'nodev', TRACEFS[0]], { stdio: 'ignore' });
  } catch {
    // reported below
  }
  if (existsSync(`${TRACEFS[0]}/events`)) return;
  throw new DroptraceError(
    'ERR_DROPTRACE_TRACEFS',
    'tracefs is not mounted and could not be mounted',
    'mount it: mount -t tracefs nodev /sys/kernel/tracing',
  );
}
