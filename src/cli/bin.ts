/**
 * What bin/droptrace.js runs, bundled with everything it imports into dist/bin/
 * (scripts/bundle-cli.mjs): Node's loader resolves, reads and links ~90 modules one by one, which
 * took longer than the BPF load it overlaps.
 *
 * The addon first (a small module): it reads the kernel's symbols and starts loading the programs
 * meanwhile; then the CLI. The dynamic import stays lazy in the bundle too, so the CLI's modules are
 * evaluated only after warmUp() has started that work.
 */
import { warmUp } from './warm.js';

warmUp(process.argv.slice(2));
const { main } = await import('./main.js');
process.exitCode = await main(process.argv.slice(2));
