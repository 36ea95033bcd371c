/**
 * The native addon, typed. It is loaded on first use: `droptrace --help` and the unit tests that
 * need no kernel never pay for it.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DroptraceError } from '../errors.js';

export type FieldLayout = Record<string, [offset: number, size: number]>;

export interface AddonLayout {
  eventSize: number;
  event: FieldLayout;
  filterSize: number;
  countKeySize: number;
  limitKeySize: number;
  limitSize: number;
  limitSlotSize: number;
  constants: Record<string, number>;
}

export interface NativeFilter {
  flags: number;
  emit: number;
  /** events per second per key and CPU; 0: no limit */
  rateLimit?: number;
  l4proto: number;
  port: number;
  reasons: number[];
  netns: number[];
  cgroups: bigint[];
  addrs: { family: number; bytes: Buffer }[];
}

export interface NativeTracer {
  readonly attachMode: 'tp_btf' | 'tracepoint';
  start(onBatch: (batch: Buffer) => void, opts?: { pollMs?: number }): void;
  /** Detaches the programs and returns the batches still in flight; the maps stay readable. */
  detach(): Buffer[];
  stop(): void;
  setPaused(paused: boolean): void;
  setFilter(filter: NativeFilter): void;
  /** Indexed by the DT_STAT_* constants. */
  stats(): number[];
  /** Events JS never received because its batch callback threw. */
  userLost(): number;
  /** [netns, reason, location, count] */
  counts(): [number, number, bigint, number][];
  /** [netns, kind (DT_RTX_*), count] from the in-kernel retransmit counters. */
  retransmitCounts(): [number, number, number][];
  /** [type, netns, reason, location, suppressed] of the rate-limit keys that held events back */
  suppressed(): [number, number, number, bigint, number][];
}

export interface Addon {
  Tracer: new (opts: { ringBytes?: number; attach: 'tp_btf' | 'tracepoint' }) => NativeTracer;
  layout: AddonLayout;
  btfEnum(query: { name?: string; member?: string }): [string, number][] | null;
  /** Whether vmlinux BTF has the struct (and the member); module types are not in it. */
  btfHas(query: { struct: string; member?: string }): boolean;
  /** A tracepoint's tp_btf argument count (btf_trace_<name>), -1 when the kernel has none. */
  tracepointArgs(name: string): number;
  clockOffset(): [seconds: number, nanoseconds: number];
  /** `function+0xoff` of a kernel text address, from a kallsyms file; null below every symbol. */
  kallsymsLookup(path: string, hi: number, lo: number): string | null;
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
// cmake-js builds native/build/Release; node-gyp (binding.gyp, same sources) builds build/Release
const candidates = [
  process.env.DROPTRACE_ADDON,
  join(root, 'native', 'build', 'Release', 'droptrace.node'),
  join(root, 'build', 'Release', 'droptrace.node'),
].filter((p): p is string => Boolean(p));

let addon: Addon | undefined;

export function loadAddon(): Addon {
  if (addon) return addon;
  const path = candidates.find((p) => existsSync(p));
  if (!path) {
    throw new DroptraceError(
      'ERR_DROPTRACE_ADDON_MISSING',
      `the native addon is not built (looked in ${candidates.join(', ')})`,
      'run `npm run build` in the droptrace checkout',
    );
  }
  addon = createRequire(import.meta.url)(path) as Addon;
  return addon;
}
