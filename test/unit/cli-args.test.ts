import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { exitCodeFor } from '../../src/cli/exit-codes.js';
import { buildProgram, reportError } from '../../src/cli/main.js';
import { DroptraceError } from '../../src/errors.js';

/** Runs the CLI in-process up to the first kernel access: argument errors happen before it. */
async function cli(args: string[]): Promise<{ code: number; err: string }> {
  const err = new PassThrough();
  let text = '';
  err.on('data', (d) => {
    text += d;
  });
  const program = buildProgram({ out: new PassThrough(), err });
  try {
    await program.parseAsync(args, { from: 'user' });
    return { code: 0, err: text };
  } catch (e) {
    return { code: reportError(e, err), err: text };
  }
}

describe('CLI argument errors', () => {
  it.each([
    [['--port', '99999'], /--port.*a port is a whole number from 1 to 65535/],
    [['--port', 'http'], /a port is a whole number/],
    [['--duration', '-1'], /--duration must be a positive number/],
    [['--count', '1.5'], /--count must be a positive whole number/],
    [['--rate-limit', '-1'], /--rate-limit must be a whole number, 0 or more/],
    [['explain', '--rate-limit', 'many'], /--rate-limit must be a whole number, 0 or more/],
    [['--proto', 'gre'], /use tcp, udp, icmp or icmpv6/],
    [['--attach', 'kprobe'], /Allowed choices are auto, tp_btf, tracepoint/],
    [['--no-such-option'], /unknown option '--no-such-option'/],
    [['top', '--interval', '0'], /--interval must be a positive number/],
    [['top', '--duration', '-1'], /--duration must be a positive number/],
  ])('%j exits 2 and says why', async (args, message) => {
    const { code, err } = await cli(args);
    expect(code).toBe(2);
    expect(err).toMatch(message);
  });

  it.each([
    [['--netns', 'dt-no-such-namespace-x'], 'ERR_DROPTRACE_NETNS_UNKNOWN'],
    [['--pid', '999999999'], 'ERR_DROPTRACE_PID_UNKNOWN'],
    [['--pid', 'self'], 'ERR_DROPTRACE_OPTION'],
    [['--reason', 'no-such reason'], 'ERR_DROPTRACE_FILTER_REASON'],
  ])('%j is refused with %s, a hint and exit 2, before anything is loaded', async (args, code) => {
    const { code: exit, err } = await cli(args);
    expect(exit).toBe(2);
    expect(err).toContain(`[${code}]`);
    expect(err).toMatch(/hint: /);
  });

  it('--help and --version exit 0', async () => {
    expect((await cli(['--help'])).code).toBe(0);
    expect((await cli(['--version'])).code).toBe(0);
  });
});

describe('exit statuses by error code', () => {
  it.each([
    ['ERR_DROPTRACE_PERMISSION', 77],
    ['ERR_DROPTRACE_NO_BTF', 69],
    ['ERR_DROPTRACE_TRACEPOINT_MISSING', 69],
    ['ERR_DROPTRACE_TRACEFS', 69],
    ['ERR_DROPTRACE_CONTAINER_UNKNOWN', 2],
    ['ERR_DROPTRACE_FILTER_PORT', 2],
    ['ERR_DROPTRACE_ADDON_MISSING', 1],
  ])('%s → %i', (code, status) => {
    expect(exitCodeFor(new DroptraceError(code, 'x'))).toBe(status);
  });
});
