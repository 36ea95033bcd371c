/**
 * Run by the bin before the rest of the CLI loads. A command that will trace loads the native addon
 * at once, which starts reading the kernel's symbol table on a thread of its own, and starts
 * loading the BPF programs on another (the verifier's work, about 100 ms here, then overlaps Node
 * loading and parsing the CLI's modules). The tracer adopts that load when its options match.
 */
import { KFREE_SKB_ARGS_WITH_REASON } from '../kernel/load.js';
import { loadAddon } from '../native/addon.js';

/** Words after which nothing is traced: help, the version, the container and reason lists. */
const NO_TRACE = new Set(['help', '--help', '-h', '--version', '-V', 'containers', 'reasons']);

/** The value of `--attach <mode>` or `--attach=<mode>`, if given. */
export function attachOption(args: readonly string[]): string | undefined {
  let mode: string | undefined;
  args.forEach((a, i) => {
    if (a === '--attach') mode = args[i + 1];
    else if (a.startsWith('--attach=')) mode = a.slice('--attach='.length);
  });
  return mode;
}

export function warmUp(argv: readonly string[]): void {
  const args = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
  if (args.some((a) => NO_TRACE.has(a))) return;
  try {
    const addon = loadAddon();
    // the programs `auto` and `tp_btf` load on a kernel whose kfree_skb passes reasons (src/kernel/load.ts)
    if (attachOption(args) === 'tracepoint') return;
    if (addon.tracepointArgs('kfree_skb') >= KFREE_SKB_ARGS_WITH_REASON) addon.preloadTracer({ attach: 'tp_btf' });
  } catch {
    // the command itself reports a missing or broken addon, with its code and hint
  }
}
