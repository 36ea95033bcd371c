/**
 * Run by the bin before the rest of the CLI loads: a command that will trace loads the native addon
 * at once, which starts reading the kernel's symbol table on a thread of its own while Node loads
 * and parses the CLI's modules (the table takes about as long; the programs need it before they load).
 */
import { loadAddon } from '../native/addon.js';

/** Words after which nothing is traced: help, the version, the container list. */
const NO_TRACE = new Set(['help', '--help', '-h', '--version', '-V', 'containers']);

export function warmUp(argv: readonly string[]): void {
  if (argv.some((a) => NO_TRACE.has(a))) return;
  try {
    loadAddon();
  } catch {
    // the command itself reports a missing or broken addon, with its code and hint
  }
}
