/**
 * The kernel's own counters of a lab namespace, read with iproute2's `nstat` (the judge the tests
 * hold droptrace against, independent of droptrace's own reader).
 */
import type { Lab } from './netns.js';

export type Counters = Record<string, number>;

/** Every SNMP/netstat counter of the namespace (absolute values, the history file untouched). */
export async function nstat(lab: Lab, side: string): Promise<Counters> {
  const r = await lab.exec(side, 'nstat', ['-asz', '--json']);
  return (JSON.parse(r.stdout) as { kernel: Counters }).kernel;
}

/** after − before for the named counters (0 for counters a kernel lacks). */
export function delta(before: Counters, after: Counters, names: string[]): Counters {
  const out: Counters = {};
  for (const n of names) out[n] = (after[n] ?? 0) - (before[n] ?? 0);
  return out;
}

/** Sets per-namespace sysctls and returns the function that puts the old values back. */
export async function sysctls(lab: Lab, side: string, values: Record<string, string>): Promise<() => Promise<void>> {
  const old: Record<string, string> = {};
  for (const k of Object.keys(values)) old[k] = (await lab.exec(side, 'sysctl', ['-n', k])).stdout.trim();
  await lab.exec(side, 'sysctl', ['-qw', ...Object.entries(values).map(([k, v]) => `${k}=${v}`)]);
  return async () => {
    await lab.exec(side, 'sysctl', ['-qw', ...Object.entries(old).map(([k, v]) => `${k}=${v}`)], { allowFail: true });
  };
}
