/**
 * Runs a command inside a network namespace given by path (`/run/netns/x`, `/proc/<pid>/ns/net`)
 * through nsenter, so that iptables, nft and /proc/sys/net answer for that namespace.
 */
import { execFile } from 'node:child_process';
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
