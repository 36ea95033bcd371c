/** `droptrace reasons`: the drop reasons of the running kernel, read from its BTF. */
import { release } from 'node:os';
import { Command } from 'commander';
import { reasonNames } from '../kernel/btf-names.js';
import { LOCATION_REASONS } from '../kernel/reasonless.js';
import { loadAddon } from '../native/addon.js';
import { escapeTerminal as esc } from '../output/escape.js';
import { writeOut } from './stdout.js';

export function reasonsCommand(io: { out: NodeJS.WritableStream; err?: NodeJS.WritableStream }): Command {
  return new Command('reasons')
    .description("list this kernel's drop reasons with their numbers (they differ between kernels)")
    .option('--json', 'one JSON array')
    .action((opts: { json?: boolean }) => {
      const names = reasonNames(loadAddon());
      if (!names.available) {
        // before 5.17: no enum skb_drop_reason; say what droptrace derives instead of printing nothing
        const byReason = new Map<string, string[]>();
        for (const [func, reason] of Object.entries(LOCATION_REASONS)) byReason.set(reason, [...(byReason.get(reason) ?? []), func]);
        const rows = [...byReason].map(([name, locations]) => ({ name, code: null, locations }));
        rows.push({ name: 'NOT_SPECIFIED', code: null, locations: [] });
        io.err?.write(
          `droptrace: kernel ${release()} passes no drop reasons (added in 5.17); droptrace derives them from the location that freed the packet:\n`,
        );
        io.out.write(
          opts.json
            ? `${JSON.stringify(rows)}\n`
            : rows.map((r) => `   -  ${r.name.padEnd(16)} ${r.locations.length ? r.locations.join(', ') : '(anywhere else)'}\n`).join(''),
        );
        return;
      }
      const rows = names.names().map((name) => ({ name, code: names.code(name) }));
      writeOut(
        io.out,
        opts.json ? `${JSON.stringify(rows)}\n` : rows.map((r) => `${String(r.code).padStart(4)}  ${esc(r.name)}\n`).join(''),
      );
    });
}
