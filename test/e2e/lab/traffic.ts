/** Runs the traffic programs of traffic.py inside a Lab's namespaces. */
import type { ChildProcess } from 'node:child_process';
import { type Lab, PYTHON, TRAFFIC_PY } from './netns.js';

// biome-ignore lint/suspicious/noExplicitAny: the programs' JSON reports are checked by their callers
export type Report = Record<string, any>;

function lastJson(stdout: string): Report {
  const lines = stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'));
  const last = lines.at(-1);
  if (last === undefined) throw new Error(`traffic program printed no report: ${JSON.stringify(stdout)}`);
  return JSON.parse(last) as Report;
}

/** Runs a traffic program to its end and returns its report. `seconds` bounds its life. */
export async function traffic(lab: Lab, side: string, args: string[], seconds = 6): Promise<Report> {
  const r = await lab.exec(side, PYTHON, [TRAFFIC_PY, '--seconds', String(seconds), ...args], {
    timeoutMs: seconds * 1000 + 2000,
  });
  return lastJson(r.stdout);
}

export interface Background {
  child: ChildProcess;
  /** What the program printed after "ready". */
  ready: Report;
  /** Tells the program to go on (a line on stdin) and waits for its report. */
  finish(): Promise<Report>;
}

/** Starts a traffic program that says "ready" once set up, and waits for that. */
export function trafficBg(lab: Lab, side: string, args: string[], seconds = 8): Promise<Background> {
  const child = lab.spawn(side, PYTHON, [TRAFFIC_PY, '--seconds', String(seconds), ...args]);
  let stdout = '';
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args[0]} not ready in 5 s: ${stderr}`)), 5000);
    child.stdout?.on('data', (d: Buffer) => {
      const before = stdout;
      stdout += d.toString();
      if (before.includes('ready ')) return;
      const m = /^ready (.*)$/m.exec(stdout);
      if (!m) return;
      clearTimeout(timer);
      resolve({
        child,
        ready: JSON.parse(m[1]) as Report,
        async finish() {
          child.stdin?.end('go\n');
          const code = await exited;
          if (code !== 0) throw new Error(`${args[0]} exited ${code}: ${stderr}`);
          return lastJson(stdout.slice(stdout.indexOf('\n', stdout.indexOf('ready ')) + 1));
        },
      });
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${args[0]} exited ${code} before ready: ${stderr}`));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
