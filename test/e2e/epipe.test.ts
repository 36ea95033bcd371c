/**
 * A reader that goes away (`| head -1`, a closed pipe) ends every verb quietly: status 0, no
 * "Unhandled 'error' event" stack on stderr.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BIN } from '../helpers/droptrace-cli.js';
import { SKIP_KERNEL } from '../helpers/kernel-env.js';

/** The reader closes its end before droptrace writes anything. */
const CLOSED = '(exec 0<&-; sleep 0.01)';
const HEAD = 'head -1 >/dev/null';

/** Runs `droptrace <args> | <reader>` under bash; returns droptrace's own status and stderr. */
function piped(args: string, reader: string): { status: number; stderr: string } {
  const r = spawnSync(
    'bash',
    ['-c', `"${process.execPath}" "${BIN}" ${args} 2>"$ERRFILE" | ${reader}; echo "\${PIPESTATUS[0]}"; cat "$ERRFILE" >&2`],
    {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, ERRFILE: `/tmp/dthx-epipe-${process.pid}.err` },
    },
  );
  return { status: Number(r.stdout.trim().split('\n').pop()), stderr: r.stderr };
}

const CASES: [string, string][] = [
  ['--help', CLOSED],
  ['reasons', CLOSED],
  ['reasons --json', CLOSED],
  ['containers', CLOSED],
  ['containers --json', CLOSED],
  ['--json --duration 2', HEAD],
  ['--duration 1', CLOSED],
  ['top --json --interval 0.2 --duration 20', HEAD],
  ['top --interval 0.2 --duration 20', HEAD],
  ['explain --json --duration 1', HEAD],
  ['explain --duration 1', CLOSED],
  ['check --json --max 1000000000 -- true', CLOSED],
];

describe.skipIf(SKIP_KERNEL)('EPIPE ends every verb with status 0', () => {
  it.each(CASES)('droptrace %s | %s', (args, reader) => {
    const started = Date.now();
    const r = piped(args, reader);
    expect(r.stderr).not.toMatch(/Unhandled|EPIPE|at .*\.js:\d+/);
    expect(r.status).toBe(0);
    // top follows its reader: it ends when the reader does, not at --duration
    if (args.startsWith('top')) expect(Date.now() - started).toBeLessThan(15_000);
  });
});
