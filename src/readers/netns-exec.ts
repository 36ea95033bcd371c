/**
 * Runs a command inside a network namespace given by path (`/run/netns/x`, `/proc/<pid>/ns/net`)
 * through nsenter, so that iptables, nft and /proc/sys/net answer for that namespace.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { DroptraceError } from '../errors.js';

export interface CommandResult {
  stdout: string;
  stderr: string;
  /** Exit status; 127 when the program does not exist. */
  code: number;
}

export type NetnsRunner = (netnsPath: string, argv: readonly string[]) => Promise<CommandResult>;

const TIMEOUT_MS = 5000;
const MAX_BUFFER = 64 * 1024 * 1024; // large rulesets (Kubernetes nodes) print megabytes

/** The real runner. Rejects only when nsenter itself cannot run or the namespace is gone. */
export const nsenterRunner: NetnsRunner = (netnsPath, argv) =>
  new Promise((resolve, reject) => {
    execFile(
      'nsenter',
      [`--net=${netnsPath}`, '--', ...argv],
      { timeout: TIMEOUT_MS, maxBuffer: MAX_BUFFER, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (!err) return resolve({ stdout, stderr, code: 0 });
        const e = err as NodeJS.ErrnoException & { code?: string | number; killed?: boolean };
        if (e.code === 'ENOENT') {
          return reject(
            new DroptraceError('ERR_DROPTRACE_CLASSIFY_NSENTER', 'nsenter not found', 'install util-linux', {
              cause: err,
            }),
          );
        }
        // nsenter reports its own failures (namespace gone, no permission) on stderr with "nsenter:"
        if (/^nsenter: /m.test(stderr) && !/failed to execute/.test(stderr)) {
          return reject(
            new DroptraceError(
              'ERR_DROPTRACE_CLASSIFY_NETNS',
              `cannot enter network namespace ${netnsPath}: ${stderr.trim()}`,
              'the namespace may be gone (container stopped); droptrace needs root to enter it',
              { cause: err },
            ),
          );
        }
        const code = typeof e.code === 'number' ? e.code : /failed to execute/.test(stderr) ? 127 : 1;
        resolve({ stdout, stderr, code });
      },
    );
  });

/** Several commands in one namespace; their results in order. */
export type NetnsBatchRunner = (netnsPath: string, commands: readonly (readonly string[])[]) => Promise<CommandResult[]>;

/**
 * The commands through `run`, nsenter's runner in one process: a fork of the tracer (tens of MB
 * of page tables) costs more than the command itself, and a storm's ruleset reads ran four a read
 * (the default stream's CPU here was half fork). A test's runner runs them one by one.
 */
export function batchRunner(run: NetnsRunner): NetnsBatchRunner {
  if (run !== nsenterRunner) return (path, commands) => Promise.all(commands.map((argv) => run(path, argv)));
  return async (path, commands) => {
    // a marker a ruleset's text (a rule comment) cannot contain, ending each command's output
    const nonce = randomBytes(16).toString('hex');
    const script = commands.map((argv) => `${argv.map(shellQuote).join(' ')} 2>/dev/null; printf '\\n%s %d\\n' ${nonce} $?`).join('\n');
    const res = await run(path, ['sh', '-c', script]);
    return splitBatch(res.stdout, nonce, commands.length);
  };
}

function shellQuote(word: string): string {
  return `'${word.replaceAll("'", "'\\''")}'`;
}

/** The script's output cut at its markers: each command's stdout and exit status (1 when its marker is missing). */
export function splitBatch(stdout: string, nonce: string, count: number): CommandResult[] {
  const marker = `\n${nonce} `;
  const out: CommandResult[] = [];
  let from = 0;
  for (let i = 0; i < count; i++) {
    const at = stdout.indexOf(marker, from);
    if (at < 0) {
      out.push({ stdout: '', stderr: 'no result', code: 1 });
      continue;
    }
    const eol = stdout.indexOf('\n', at + marker.length);
    const code = Number(stdout.slice(at + marker.length, eol < 0 ? undefined : eol));
    out.push({ stdout: stdout.slice(from, at), stderr: '', code: Number.isInteger(code) ? code : 1 });
    from = eol < 0 ? stdout.length : eol + 1;
  }
  return out;
}
