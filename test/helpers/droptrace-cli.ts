/**
 * Runs the real `droptrace` command (bin/droptrace.js, built dist/) as a child process, waits for
 * its `start` record (attached), collects stdout, and on stop parses every line as JSON and
 * validates it against the schema.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { DropRecord, DroptraceRecord, RetransmitRecord } from '../../src/events.js';
import { assertValidRecord } from './schema.js';

export const BIN = fileURLToPath(new URL('../../bin/droptrace.js', import.meta.url));

export class DroptraceRun {
  stdout = '';
  stderr = '';
  readonly exited: Promise<number>;

  private constructor(readonly child: ChildProcess) {
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      this.stdout += d;
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
    });
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))));
  }

  /**
   * Starts `droptrace args…` and resolves once it printed `start` (JSON) or its banner (text).
   * `env` replaces the child's environment (e.g. a test engine's DOCKER_HOST).
   */
  static async start(args: string[], timeoutMs = 15_000, env?: NodeJS.ProcessEnv, wrapper: string[] = []): Promise<DroptraceRun> {
    // a wrapper (e.g. a command that enters namespaces, then execs the rest) runs node with BIN and args after its own
    return DroptraceRun.startCommand([...wrapper, process.execPath, BIN, ...args], timeoutMs, env);
  }

  /** As start(), for a droptrace reached through another command line (an installed copy, a chroot). */
  static async startCommand(argv: string[], timeoutMs = 15_000, env?: NodeJS.ProcessEnv): Promise<DroptraceRun> {
    const run = new DroptraceRun(spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env }));
    const deadline = Date.now() + timeoutMs;
    while (!/"type":"start"|tracing drops|counting drops|explain: tracing for/.test(run.stdout + run.stderr)) {
      if (run.child.exitCode !== null) throw new Error(`droptrace exited ${run.child.exitCode} before starting:\n${run.stderr}`);
      if (Date.now() > deadline) {
        run.kill(); // never leave a tracer attached behind a failed test
        throw new Error(`droptrace did not start in ${timeoutMs} ms:\n${run.stderr}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    return run;
  }

  /** Runs to completion (for --duration/--count or error cases). */
  static async run(
    args: string[],
    env?: NodeJS.ProcessEnv,
  ): Promise<{ code: number; stdout: string; stderr: string; records: DroptraceRecord[] }> {
    const run = new DroptraceRun(spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env }));
    const code = await run.exited;
    return { code, stdout: run.stdout, stderr: run.stderr, records: args.includes('--json') ? run.records() : [] };
  }

  /** Every stdout line as a schema-valid record. */
  records(): DroptraceRecord[] {
    const lines = this.stdout.split('\n');
    lines.pop(); // what follows the last newline: empty once stopped, a line being written while running
    return lines.filter(Boolean).map((line) => {
      const record = JSON.parse(line) as DroptraceRecord;
      assertValidRecord(record);
      return record;
    });
  }

  drops(): DropRecord[] {
    return this.records().filter((r): r is DropRecord => r.type === 'drop');
  }

  retransmits(): RetransmitRecord[] {
    return this.records().filter((r): r is RetransmitRecord => r.type === 'retransmit');
  }

  /** Waits until a record satisfies `pred` (polling stdout), or throws with what was seen. */
  async waitFor<T extends DroptraceRecord>(pred: (r: DroptraceRecord) => r is T, timeoutMs?: number): Promise<T>;
  async waitFor(pred: (r: DroptraceRecord) => boolean, timeoutMs?: number): Promise<DroptraceRecord>;
  async waitFor(pred: (r: DroptraceRecord) => boolean, timeoutMs = 10_000): Promise<DroptraceRecord> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lines = this.stdout.split('\n');
      lines.pop(); // maybe partial
      const hit = lines.map((l) => JSON.parse(l) as DroptraceRecord).find(pred);
      if (hit) return hit;
      if (Date.now() > deadline || this.child.exitCode !== null) {
        throw new Error(`no matching record in ${timeoutMs} ms; saw:\n${lines.slice(-20).join('\n')}\nstderr:\n${this.stderr}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGINT, as Ctrl-C: droptrace prints `stop` and its summary, then exits 0. */
  async stop(): Promise<number> {
    if (this.child.exitCode === null) this.child.kill('SIGINT');
    return this.exited;
  }

  /** For teardown: never leaves a tracer behind, even when a test failed. */
  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}
