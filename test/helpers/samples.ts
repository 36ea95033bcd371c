/**
 * With DROPTRACE_SAMPLES=<file>, e2e tests append what droptrace printed for each case to that file:
 * the lines quoted in issue notes and the README come from real runs, not from memory.
 */
import { appendFileSync } from 'node:fs';

export function sample(label: string, line: string): void {
  const file = process.env.DROPTRACE_SAMPLES;
  if (file) appendFileSync(file, `## ${label}\n${line}\n`);
}
