/**
 * `droptrace check -- <command>`: run a command under the tracer and fail when it made drops that
 * were not expected, for kernel-level regression tests (in a VM, in CI). Benign drops (queue purges
 * on close and the like) never count; --allow names more that may happen.
 */
import { spawn } from 'node:child_process';
import { DroptraceError } from '../errors.js';
import { type CheckRecord, countKey, type DropRecord } from '../events.js';
import { FindingsBuilder, findingsText } from '../explain/findings.js';
import { hostName } from '../host.js';
import { reasonNames } from '../kernel/btf-names.js';
import { LOCATION_REASONS } from '../kernel/reasonless.js';
import { loadAddon } from '../native/addon.js';
import { escapeTerminal as esc, excerpt } from '../output/escape.js';
import { jsonLine } from '../output/ndjson.js';
import type { Selection } from '../selection.js';
import { checkAllow } from './allow.js';
import { EXIT_FAILURE, EXIT_UNEXPECTED_DROPS } from './exit-codes.js';
import { openPipeline } from './open.js';
import { DEFAULT_RATE_LIMIT } from './rate-limit.js';
import { writeOut } from './stdout.js';

export interface CheckOptions extends Selection {
  allow: string[];
  max: number;
  json?: boolean;
  rateLimit?: number;
}

/** Drops that arrive after the command exits still belong to it: wait two ring polls for them. */
const SETTLE_MS = 100;

/** `--allow` takes a reason (NO_SOCKET), a layer (netfilter) or a layer/component (qdisc/tbf). */
export function allowed(drop: DropRecord, allow: readonly string[]): boolean {
  return allow.some((a) => a === drop.reason || a === drop.layer || a === `${drop.layer}/${drop.component}`);
}

export async function check(
  command: string[],
  opts: CheckOptions,
  io: { out: NodeJS.WritableStream; err: NodeJS.WritableStream },
): Promise<number> {
  if (command.length === 0) {
    throw new DroptraceError('ERR_DROPTRACE_OPTION', 'check needs a command to run', 'droptrace check [options] -- <command> [args…]');
  }
  const reasons = reasonNames(loadAddon());
  // before 5.17 the kernel names no reasons: those droptrace derives from the location are the ones a drop can have
  checkAllow(opts.allow, (name) =>
    reasons.available ? reasons.code(name) !== undefined : name === 'NOT_SPECIFIED' || Object.values(LOCATION_REASONS).includes(name),
  );
  const pipeline = await openPipeline(opts, io.err, { rateLimit: opts.rateLimit ?? DEFAULT_RATE_LIMIT.check });
  const builder = new FindingsBuilder();
  // the verdict on each kind of drop delivered; what the rate limit held back of it shares it
  const expected = new Map<string, boolean>();
  let unexpected = 0;
  pipeline.start({
    events(events) {
      for (const e of events) {
        if (e.type !== 'drop') continue;
        const ok = e.benign || allowed(e, opts.allow);
        expected.set(countKey(e.netns, e.reason, e.location), ok);
        if (ok) continue;
        unexpected++;
        builder.add(e);
      }
    },
    lost() {},
    suppressed(record) {
      // a kind none of whose events arrived was lost, which fails the check anyway: counted as unexpected
      if (record.event !== 'drop' || expected.get(countKey(record.netns, record.reason, record.location))) return;
      unexpected += record.count;
      builder.addSuppressed(record);
    },
  });

  const started = Date.now();
  const status = await new Promise<number>((resolve) => {
    const child = spawn(command[0], command.slice(1), { stdio: 'inherit' });
    child.on('error', (e) => {
      io.err.write(`droptrace check: cannot run ${excerpt(command[0])}: ${esc(e.message)}\n`);
      resolve(127);
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : EXIT_FAILURE)));
  });
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const stop = pipeline.stop();
  // --allow may name a component (netfilter/iptables) that only the ruleset read after the drop tells
  await pipeline.drained();

  const { findings } = builder.result();
  const seconds = Math.round((Date.now() - started) / 100) / 10;
  const failedDrops = unexpected > opts.max || stop.lost > 0;
  const verdict = status !== 0 ? 'command failed' : failedDrops ? 'unexpected drops' : 'ok';
  if (opts.json) {
    const record: CheckRecord = {
      type: 'check',
      time: pipeline.session.clock.now(),
      host: hostName(),
      command,
      status,
      verdict,
      unexpected,
      allowed_max: opts.max,
      lost: stop.lost,
      findings,
    };
    writeOut(io.out, jsonLine(record));
  }
  io.err.write(
    `droptrace check: ${excerpt(command.join(' '), 200)} exited ${status}; ${unexpected} unexpected drop${unexpected === 1 ? '' : 's'}` +
      `${opts.max ? ` (${opts.max} allowed)` : ''}${stop.lost ? `; ${stop.lost} events lost, so drops may be missing: failing` : ''}: ${verdict}\n`,
  );
  if (findings.length) io.err.write(findingsText(findings, [], seconds, 'unexpected drops'));
  if (status !== 0) return status;
  return failedDrops ? EXIT_UNEXPECTED_DROPS : 0;
}
