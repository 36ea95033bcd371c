/**
 * The native addon, typed. It is loaded on first use: `droptrace --help` and the unit tests that
 * need no kernel never pay for it.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { DroptraceError } from '../errors.js';
import { packageRoot } from '../package-root.js';

export type FieldLayout = Record<string, [offset: number, size: number]>;

export interface AddonLayout {
  eventSize: number;
  event: FieldLayout;
  filterSize: number;
  countKeySize: number;
  limitKeySize: number;
  limitSize: number;
  limitSlotSize: number;
  countSlotSize: number;
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
  /** The SYN-on-a-full-queue program loaded (tp_btf, consume_skb with its location, the symbols known). */
  readonly listenSynAvailable: boolean;
  /**
   * `onBatch` gets each batch of records in the first `length` bytes of `scratch`, a Buffer the
   * addon reuses for the next batch: read it during the call, keep nothing of it after.
   */
  start(onBatch: (scratch: Buffer, length: number) => void, opts?: { pollMs?: number }): void;
  /** Detaches the programs and returns the batches still in flight; the maps stay readable. */
  detach(): Buffer[];
  stop(): void;
  setPaused(paused: boolean): void;
  setFilter(filter: NativeFilter): void;
  /** Indexed by the DT_STAT_* constants. */
  stats(): number[];
  /** Events JS never received because its batch callback threw. */
  userLost(): number;
  /** [netns, reason, location, count, detect (DT_DETECT_*)] */
  counts(): [number, number, bigint, number, number][];
  /** [netns, kind (DT_RTX_*), calls, segments] from the in-kernel retransmit counters. */
  retransmitCounts(): [number, number, number, number][];
  /** Attaches (true) or detaches the SYN program after start(); whether it is attached now. */
  setListenSyn(on: boolean): boolean;
  /** [type, netns, reason, location, suppressed, detect] of the rate-limit keys that held events back */
  suppressed(): [number, number, number, bigint, number, number][];
}

export interface Addon {
  Tracer: new (opts: { ringBytes?: number; attach: 'tp_btf' | 'tracepoint' }) => NativeTracer;
  /** Starts loading the programs on a thread of its own, for the first Tracer made with these options. */
  preloadTracer(opts: { ringBytes?: number; attach: 'tp_btf' | 'tracepoint' }): boolean;
  layout: AddonLayout;
  btfEnum(query: { name?: string; member?: string }): [string, number][] | null;
  /** Frees the parsed vmlinux BTF the queries here use (a later query parses it again). */
  btfRelease(): void;
  /** Whether vmlinux BTF has the struct (and the member); module types are not in it. */
  btfHas(query: { struct: string; member?: string }): boolean;
  /** A tracepoint's tp_btf argument count (btf_trace_<name>), -1 when the kernel has none. */
  tracepointArgs(name: string): number;
  clockOffset(): [seconds: number, nanoseconds: number];
  /** `function+0xoff` of a kernel text address, from a kallsyms file; null below every symbol. */
  kallsymsLookup(path: string, hi: number, lo: number): string | null;
}

/** The addon the npm package ships (scripts/build-prebuild.sh): libbpf, libelf and zlib linked in. */
const prebuilt = join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`, 'droptrace.napi.node');
// A checkout's own builds: cmake-js builds native/build/Release; node-gyp (binding.gyp, same
// sources) builds build/Release.
const localBuilds = [
  join(packageRoot, 'native', 'build', 'Release', 'droptrace.node'),
  join(packageRoot, 'build', 'Release', 'droptrace.node'),
];

/** DROPTRACE_ADDON names one file; otherwise the prebuilt comes first, a local build second. */
export function addonCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  return env.DROPTRACE_ADDON ? [env.DROPTRACE_ADDON] : [prebuilt, ...localBuilds];
}

/** An installed package has no native sources beside it; a checkout does. */
function isCheckout(): boolean {
  return existsSync(join(packageRoot, 'native', 'CMakeLists.txt'));
}

function missingHint(env: NodeJS.ProcessEnv): string {
  if (env.DROPTRACE_ADDON) return 'DROPTRACE_ADDON names no file: unset it, or point it at a built droptrace.node';
  if (isCheckout()) return 'run `npm run build` in this checkout (`bash scripts/setup.sh` installs what it needs)';
  const platform = `${process.platform}-${process.arch}`;
  if (platform === 'linux-x64') {
    return 'this installed package is incomplete: reinstall it from its tarball, which carries prebuilds/linux-x64/droptrace.napi.node';
  }
  return (
    `this package ships a prebuilt addon for linux-x64 only, and this is ${platform}: build droptrace from its source ` +
    'repository (`bash scripts/setup.sh && npm run build`) and set DROPTRACE_ADDON to the native/build/Release/droptrace.node it makes'
  );
}

let addon: Addon | undefined;

export function loadAddon(): Addon {
  if (addon) return addon;
  const candidates = addonCandidates();
  const path = candidates.find((p) => existsSync(p));
  if (!path) {
    throw new DroptraceError(
      'ERR_DROPTRACE_ADDON_MISSING',
      `the native addon is not there (looked in ${candidates.join(', ')})`,
      missingHint(process.env),
    );
  }
  try {
    addon = createRequire(import.meta.url)(path) as Addon;
  } catch (e) {
    // dlopen's own words name what is missing: a library, or a GLIBC_/GLIBCXX_ version
    throw new DroptraceError(
      'ERR_DROPTRACE_ADDON_LOAD',
      `the native addon ${path} cannot be loaded: ${(e as Error).message}`,
      path === prebuilt
        ? 'the prebuilt addon needs glibc 2.33 or newer (and the libstdc++ node is linked with); on an older system, build droptrace from source'
        : 'rebuild it against this system (`npm run build` in the checkout)',
      { cause: e },
    );
  }
  return addon;
}
