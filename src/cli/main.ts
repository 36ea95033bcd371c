/** The droptrace command line: commander, one factory per verb, errors with codes and hints. */
import { Command, CommanderError, Option } from 'commander';
import { DroptraceError } from '../errors.js';
import { LISTEN_SYN_MODES, type ListenSynMode } from '../listen-watch.js';
import { DEFAULT_METRICS_ADDRESS } from '../metrics/server.js';
import { colourWanted } from '../output/colour.js';
import { escapeTerminal as esc, excerpt } from '../output/escape.js';
import { TOP_BY } from '../output/top-table.js';
import { droptraceVersion } from '../version.js';
import { type CheckOptions, check } from './check.js';
import { containersCommand } from './containers.js';
import { EXIT_USAGE, exitCodeFor } from './exit-codes.js';
import { type ExplainOptions, explain } from './explain.js';
import { collect, DURATION_RANGE, INTERVAL_RANGE, nonNegativeInteger, port, positiveInteger, proto, seconds } from './options.js';
import { DEFAULT_RATE_LIMIT, parseRateLimit, RATE_LIMIT_FLAGS, rateLimitHelp } from './rate-limit.js';
import { reasonsCommand } from './reasons.js';
import type { ServeOptions } from './serve.js';
import { guardOutput, outputAbandoned, waitFlushed, writeOut } from './stdout.js';
import { type StreamOptions, stream } from './stream.js';
import { type TopOptions, top } from './top.js';
import { stoppedBySignal } from './until-stopped.js';
import { usageError } from './usage-errors.js';

/** `listenSyn`: the default of --listen-syn (check, a regression test, wants every refusal from the start). */
function addFilterOptions(cmd: Command, listenSyn: ListenSynMode = 'auto'): Command {
  return cmd
    .option('--netns <name|inode|path>', 'only this network namespace (repeatable; names from /run/netns)', collect, [])
    .option('--pid <pid>', 'only the network namespace of this process (repeatable)', collect, [])
    .option('--container <name|id>', 'only drops that concern this container, followed across restarts (repeatable)', collect, [])
    .option('--pod <namespace/name>', 'only drops that concern this Kubernetes pod, followed when re-created (repeatable)', collect, [])
    .option('--k8s-namespace <namespace>', 'only drops that concern pods of this Kubernetes namespace (repeatable)', collect, [])
    .option('--cri-socket <path>', 'the CRI runtime socket that names pods (default: containerd or CRI-O at the usual path)')
    .option('--reason <NAME>', 'only this drop reason, e.g. NETFILTER_DROP (repeatable)', collect, [])
    .option('--proto <tcp|udp|icmp|icmpv6>', 'only this transport protocol', proto)
    .option('--port <n>', 'only packets with this port at either end', port)
    .addOption(
      new Option(
        '--listen-syn <when>',
        'when SYNs refused by a full accept or SYN queue are traced: auto (while listeners refuse), always (exact, costs every consume_skb)',
      )
        .choices([...LISTEN_SYN_MODES])
        .default(listenSyn),
    );
}

export interface ProgramIO {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

export function buildProgram(io: ProgramIO = { out: process.stdout, err: process.stderr }): Command {
  // a reader that goes away (| head -1) ends the verb quietly: src/cli/stdout.ts
  guardOutput(io.out);
  guardOutput(io.err);
  const program = new Command('droptrace')
    .description('Every packet the kernel drops and every TCP retransmit, live, with where and why.')
    .version(droptraceVersion())
    // a verb's options (top --json) belong to the verb, not to the default stream command
    .enablePositionalOptions()
    .configureOutput({
      writeErr: (s) => writeOut(io.err, s),
      writeOut: (s) => writeOut(io.out, s),
      // parse errors are printed by reportError, with a code and a hint (src/cli/usage-errors.ts)
      outputError: () => {},
    });

  addFilterOptions(program)
    .option('--json', 'NDJSON records on stdout (schema/droptrace-event.schema.json)')
    .option('--all', 'also show benign drops (queue purges on close and the like)')
    .option('--wide', 'every field of every event, uncut (on a terminal, lines are fitted to its width)')
    .option('--duration <seconds>', `stop after this many seconds (at most ${DURATION_RANGE.max})`, seconds('--duration', DURATION_RANGE))
    .option('--count <n>', 'stop after this many events', positiveInteger('--count'))
    .option(RATE_LIMIT_FLAGS, rateLimitHelp(`default ${DEFAULT_RATE_LIMIT.text}, with --json ${DEFAULT_RATE_LIMIT.json}`), parseRateLimit)
    .addOption(new Option('--attach <mode>', 'program kind').choices(['auto', 'tp_btf', 'tracepoint']).default('auto'))
    // a word that is not a verb reaches the stream's action: say so there, with the verbs
    .allowExcessArguments()
    .action(async (opts: StreamOptions & { wide?: boolean }, cmd: Command) => {
      if (cmd.args.length) throw unknownCommand(cmd.args[0] as string, program);
      const tty = Boolean((io.out as NodeJS.WriteStream).isTTY) && !opts.json;
      await stream(opts, { out: io.out, err: io.err, color: !opts.json && colourWanted(io.out), fit: tty && !opts.wide });
    });

  addFilterOptions(program.command('top'))
    .description('live counts by container, layer and reason, with rates; counted in the kernel (no per-event cost)')
    .addOption(new Option('--by <what>', 'rows by').choices([...TOP_BY]).default('container'))
    .option(
      '--interval <seconds>',
      `redraw interval in seconds (${INTERVAL_RANGE.min} to ${INTERVAL_RANGE.max})`,
      seconds('--interval', INTERVAL_RANGE),
      1,
    )
    .option('--duration <seconds>', `stop after this many seconds (at most ${DURATION_RANGE.max})`, seconds('--duration', DURATION_RANGE))
    .option('--all', 'also show benign drops (queue purges on close and the like)')
    .option('--json', 'one NDJSON counts record per interval')
    .action(async (opts: TopOptions) => {
      await top(opts, io);
    });

  addFilterOptions(program.command('explain'))
    .description('trace for a while, then say what is dropping packets, where and why, most first')
    .option(
      '--duration <seconds>',
      `how long to trace, in seconds (at most ${DURATION_RANGE.max})`,
      seconds('--duration', DURATION_RANGE),
      10,
    )
    .option('--json', 'NDJSON: start, one finding per line, stop')
    .option(RATE_LIMIT_FLAGS, rateLimitHelp(`default ${DEFAULT_RATE_LIMIT.explain}; findings count them all`), parseRateLimit)
    .action(async (opts: ExplainOptions) => {
      await explain(opts, io);
    });

  addFilterOptions(program.command('check'), 'always')
    .description('run a command under the tracer; exit 3 when it made drops that are not benign or allowed')
    .argument('<command...>', 'the command and its arguments, after --')
    .option('--allow <REASON|layer|layer/component>', 'drops that may happen (repeatable)', collect, [])
    .option('--max <n>', 'unexpected drops tolerated', nonNegativeInteger('--max'), 0)
    .option('--json', 'one NDJSON `check` record on stdout at the end')
    .option(RATE_LIMIT_FLAGS, rateLimitHelp(`default ${DEFAULT_RATE_LIMIT.check}; the verdict counts them all`), parseRateLimit)
    .action(async (command: string[], opts: CheckOptions) => {
      const status = await check(command, opts, io);
      if (status !== 0) throw new CheckFailed(status);
    });

  addFilterOptions(program.command('serve'))
    .description('node agent: NDJSON records on stdout and Prometheus metrics from the in-kernel counters')
    .option('--metrics <address>', 'where to serve /metrics: [host:]port, loopback unless an address is given', DEFAULT_METRICS_ADDRESS)
    .option('--grace <seconds>', 'how long the series of a pod that is gone are kept', seconds('--grace', DURATION_RANGE), 300)
    .option('--all', 'also write benign drops (the counters always count them)')
    .option('--duration <seconds>', `stop after this many seconds (at most ${DURATION_RANGE.max})`, seconds('--duration', DURATION_RANGE))
    .addOption(new Option('--attach <mode>', 'program kind').choices(['auto', 'tp_btf', 'tracepoint']).default('auto'))
    .action(async (opts: ServeOptions) => {
      // loaded when asked for: prom-client costs every other verb ~50-150 ms of start-up otherwise
      const { serve } = await import('./serve.js');
      await serve(opts, io);
    });

  program.addCommand(containersCommand(io));
  program.addCommand(reasonsCommand(io));
  // errors are thrown, never process.exit(): main() maps them to exit statuses, tests inspect them
  program.helpCommand('help [command]', 'show help for droptrace, or for one command');
  for (const cmd of [program, ...program.commands]) cmd.exitOverride().configureOutput(program.configureOutput());
  return program;
}

/** The verbs, as `droptrace --help` lists them. */
function verbs(program: Command): string[] {
  return [...program.commands.map((c) => c.name()), 'help'];
}

function unknownCommand(word: string, program: Command): DroptraceError {
  // what was typed is echoed as a short, escaped excerpt
  return new DroptraceError(
    'ERR_DROPTRACE_VERB_UNKNOWN',
    `unknown command '${excerpt(word, 40)}'`,
    `commands: ${verbs(program).join(', ')} (droptrace help <command>); with none, droptrace streams drops`,
  );
}

/** `check` ends with the command's status, or 3 for unexpected drops: not an error to print. */
class CheckFailed extends Error {
  constructor(readonly status: number) {
    super(`check failed with ${status}`);
  }
}

export function reportError(e: unknown, err: NodeJS.WritableStream): number {
  if (e instanceof CheckFailed) return e.status;
  if (e instanceof DroptraceError) {
    // messages carry names read from the system (netns, containers, rules): escaped like the stream
    err.write(`droptrace: error [${e.code}]: ${esc(e.message)}\n${e.hint ? `  hint: ${esc(e.hint)}\n` : ''}`);
    return exitCodeFor(e);
  }
  // help and version are CommanderErrors with status 0; parse errors become coded usage errors
  if (e instanceof CommanderError) {
    const usage = usageError(e);
    if (!usage) return e.exitCode;
    reportError(usage, err);
    return EXIT_USAGE;
  }
  err.write(`droptrace: ${esc((e as Error)?.stack ?? String(e)).replace(/\\n/g, '\n')}\n`);
  return exitCodeFor(e);
}

/** After Ctrl-C, how long the last records may wait for stdout's reader. */
const SIGNAL_FLUSH_MS = 300;

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  let code: number;
  try {
    await program.parseAsync(argv, { from: 'user' });
    code = 0;
  } catch (e) {
    code = reportError(e, process.stderr);
  }
  // a reader that stopped reading holds stdout's queue, and with it the process, forever: after
  // Ctrl-C (or a stream that gave up on its reader) the process ends anyway, promptly
  if (outputAbandoned(process.stdout)) process.exit(code);
  if (stoppedBySignal() && !(await waitFlushed(process.stdout, SIGNAL_FLUSH_MS))) {
    process.stderr.write('droptrace: stdout is not being read; output after the stop was discarded\n');
    process.exit(code);
  }
  return code;
}
