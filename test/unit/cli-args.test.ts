import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { checkAllow } from '../../src/cli/allow.js';
import { exitCodeFor } from '../../src/cli/exit-codes.js';
import { buildProgram, reportError } from '../../src/cli/main.js';
import { DURATION_RANGE, INTERVAL_RANGE, seconds } from '../../src/cli/options.js';
import { DroptraceError } from '../../src/errors.js';
import { netnsOfPid } from '../../src/kernel/netns.js';

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
    [['--port', '99999'], /--port.*\n.*a port is a whole number from 1 to 65535/],
    [['--port', 'http'], /a port is a whole number/],
    [['--duration', '-1'], /--duration takes seconds/],
    [['--count', '1.5'], /--count takes a whole number/],
    [['--proto', 'gre'], /use tcp, udp, icmp, icmpv6/],
    [['--rate-limit', '-1'], /--rate-limit/],
    [['explain', '--rate-limit', 'many'], /--rate-limit/],
    [['--attach', 'kprobe'], /Allowed choices are auto, tp_btf, tracepoint/],
    [['--no-such-option'], /unknown option '--no-such-option'/],
    [['top', '--interval', '0'], /--interval takes seconds/],
    [['top', '--duration', '-1'], /--duration takes seconds/],
  ])('%j exits 2 and says why', async (args, message) => {
    const { code, err } = await cli(args);
    expect(code).toBe(2);
    expect(err).toMatch(message);
  });

  // a Node timer holds 2^31-1 ms; past it setTimeout fires after 1 ms (the run ended at once)
  it.each([
    [['--duration', '3000000'], 'ERR_DROPTRACE_OPTION_RANGE', /from 0\.001 to 2147483/],
    [['explain', '--duration', '3000000'], 'ERR_DROPTRACE_OPTION_RANGE', /to 2147483/],
    [['top', '--duration', '2147484'], 'ERR_DROPTRACE_OPTION_RANGE', /to 2147483/],
    [['top', '--interval', '3000000'], 'ERR_DROPTRACE_OPTION_RANGE', /from 0\.1 to 86400/],
    [['top', '--interval', '0.01'], 'ERR_DROPTRACE_OPTION_RANGE', /from 0\.1/],
    [['top', '--interval', '1e-9'], 'ERR_DROPTRACE_OPTION_VALUE', /decimal number/],
    [['--duration', 'Infinity'], 'ERR_DROPTRACE_OPTION_VALUE', /decimal number/],
  ])('timer bounds: %j is refused with %s', async (args, code, hint) => {
    const { code: exit, err } = await cli(args);
    expect(exit).toBe(2);
    expect(err).toContain(`[${code}]`);
    expect(err).toMatch(hint);
  });

  it.each([
    [['--duration', '2147483'], 2147483],
    [['--duration', '0.5'], 0.5],
    [['--duration', '.25'], 0.25],
  ])('timer bounds: %j is accepted as %d s', (args, value) => {
    expect(seconds('--duration', DURATION_RANGE)(args[1])).toBe(value);
    expect(value * 1000).toBeLessThanOrEqual(2 ** 31 - 1);
  });

  it('intervals at the bounds are accepted', () => {
    expect(seconds('--interval', INTERVAL_RANGE)('0.1')).toBe(0.1);
    expect(seconds('--interval', INTERVAL_RANGE)('86400')).toBe(86400);
  });

  it.each([
    [['--netns', 'dt-no-such-namespace-x'], 'ERR_DROPTRACE_NETNS_UNKNOWN'],
    [['--pid', '4194303'], 'ERR_DROPTRACE_PID_UNKNOWN'],
    [['--pid', '999999999'], 'ERR_DROPTRACE_OPTION_VALUE'],
    [['--pid', 'self'], 'ERR_DROPTRACE_OPTION_VALUE'],
    [['--pid', '0'], 'ERR_DROPTRACE_OPTION_VALUE'],
    [['--netns', '123'], 'ERR_DROPTRACE_NETNS_UNKNOWN'],
    [['--netns', '/proc/self/ns/mnt'], 'ERR_DROPTRACE_NETNS_TYPE'],
    [['--port', '0x50'], 'ERR_DROPTRACE_OPTION_VALUE'],
    [['--port', ' 80 '], 'ERR_DROPTRACE_OPTION_VALUE'],
    [['--port', '1e3'], 'ERR_DROPTRACE_OPTION_VALUE'],
    [['--count', '0x10'], 'ERR_DROPTRACE_OPTION_VALUE'],
    [['check', '--max', ' 1', '--', 'true'], 'ERR_DROPTRACE_OPTION_VALUE'],
    [['--no-such-option'], 'ERR_DROPTRACE_OPTION_UNKNOWN'],
    [['top', '--interval'], 'ERR_DROPTRACE_OPTION_MISSING'],
    [['--attach', 'kprobe'], 'ERR_DROPTRACE_OPTION_VALUE'],
    [['reasons', 'extra'], 'ERR_DROPTRACE_OPTION_EXCESS'],
    [['--reason', 'no-such reason'], 'ERR_DROPTRACE_FILTER_REASON'],
  ])('%j is refused with %s, a hint and exit 2, before anything is loaded', async (args, code) => {
    const { code: exit, err } = await cli(args);
    expect(exit).toBe(2);
    expect(err).toContain(`[${code}]`);
    expect(err).toMatch(/hint: /);
  });

  it('a 100 KB value is echoed as a short escaped excerpt', async () => {
    for (const args of [
      ['--port', `8\x1b[2J${'0'.repeat(100_000)}`],
      [`--${'x'.repeat(100_000)}`],
      ['--proto', `\x1b]0;t\x07${'p'.repeat(100_000)}`],
    ]) {
      const { code, err } = await cli(args);
      expect(code).toBe(2);
      expect(err.length).toBeLessThan(1000);
      expect(err).toMatch(/\[ERR_DROPTRACE_OPTION_[A-Z]+\]/);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: no raw ESC may be echoed
      expect(err).not.toMatch(/\x1b/);
    }
  });

  it('--pid that cannot be read is reported as not permitted (exit 77), not as no such process', () => {
    const denied = () => {
      throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    };
    let error: unknown;
    try {
      netnsOfPid('1', denied);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'ERR_DROPTRACE_PID_ACCESS', message: expect.stringMatching(/not permitted.*process 1/) });
    expect(exitCodeFor(error)).toBe(77);
  });

  it.each([['FOO'], ['link/nope'], ['nosuchlayer'], ['qdisc/tbf/x'], ['no_socket']])('check --allow %s is refused', async (value) => {
    const { code, err } = await cli(['check', '--allow', value, '--', 'true']);
    expect(code).toBe(2);
    expect(err).toContain('[ERR_DROPTRACE_OPTION_ALLOW]');
  });

  it.each([['NO_SOCKET'], ['netfilter'], ['qdisc/tbf'], ['transport/udp'], ['netfilter/iptables'], ['socket/accept-queue']])(
    'check --allow %s is a value a drop can have',
    (value) => {
      expect(() => checkAllow([value], (n) => n === 'NO_SOCKET')).not.toThrow();
    },
  );

  it('--help and --version exit 0', async () => {
    expect((await cli(['--help'])).code).toBe(0);
    expect((await cli(['--version'])).code).toBe(0);
  });
});

describe('exit statuses by error code', () => {
  it.each([
    ['ERR_DROPTRACE_PERMISSION', 77],
    ['ERR_DROPTRACE_KERNEL_NO_BTF', 69],
    ['ERR_DROPTRACE_KERNEL_NO_TRACEPOINT', 69],
    ['ERR_DROPTRACE_TRACEFS', 69],
    ['ERR_DROPTRACE_CONTAINER_UNKNOWN', 2],
    ['ERR_DROPTRACE_FILTER_PORT', 2],
    ['ERR_DROPTRACE_ADDON_MISSING', 1],
    ['ERR_DROPTRACE_ADDON_LOAD', 1],
  ])('%s → %i', (code, status) => {
    expect(exitCodeFor(new DroptraceError(code, 'x'))).toBe(status);
  });
});
