/** `droptrace reasons`: the drop reasons of the running kernel, read from its BTF. */
import { Command } from 'commander';
import { reasonNames } from '../kernel/btf-names.js';
import { loadAddon } from '../native/addon.js';
import { escapeTerminal as esc } from '../output/escape.js';
import { writeOut } from './stdout.js';

export function reasonsCommand(io: { out: NodeJS.WritableStream }): Command {
  return new Command('reasons')
    .description("list this kernel's drop reasons with their numbers (they differ between kernels)")
    .option('--json', 'one JSON array')
    .action((opts: { json?: boolean }) => {
      const names = reasonNames(loadAddon());
      const rows = names.names().map((name) => ({ name, code: names.code(name) }));
      writeOut(
        io.out,
        opts.json ? `${JSON.stringify(rows)}\n` : rows.map((r) => `${String(r.code).padStart(4)}  ${esc(r.name)}\n`).join(''),
      );
    });
}
