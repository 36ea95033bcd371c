/**
 * Runs the real `droptrace` in a pseudo-terminal of a given size, through util-linux `script`
 * (`stty` sets the size before droptrace starts), and collects what the terminal was sent.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { stripVTControlCharacters } from 'node:util';
import { BIN } from './droptrace-cli.js';

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function withoutCi(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { CI: _ci, ...rest } = env;
  return rest;
}

export class PtyRun {
  output = '';
  readonly exited: Promise<number>;
  private readonly child: ChildProcess;

  /** `env` defaults to ours without CI: Node takes CI=true for a terminal without colours, a person's terminal has them. */
  constructor(args: string[], size: { cols: number; rows: number }, env: NodeJS.ProcessEnv = withoutCi(process.env)) {
    const command = `stty cols ${size.cols} rows ${size.rows}; exec ${[process.execPath, BIN, ...args].map(quote).join(' ')}`;
    // stdin stays open: `script` ends the session when its input ends
    this.child = spawn('script', ['-qfec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env });
    this.child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      this.output += d;
    });
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))));
  }

  /** Waits until the terminal was sent something matching `re` (escapes stripped). */
  async waitFor(re: RegExp, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!re.test(this.plain())) {
      if (this.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`no ${re} on the terminal in ${timeoutMs} ms; it showed:\n${this.plain()}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** What was sent, without escape sequences; lines split on the terminal's CR LF. */
  plain(): string {
    return stripVTControlCharacters(this.output);
  }

  lines(): string[] {
    return this.plain()
      .split(/\r?\n/)
      .map((l) => l.replace(/\r$/, ''));
  }

  /** Ends the session (SIGKILL for `script` and, through the pty's hang-up, droptrace). */
  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}
