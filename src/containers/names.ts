/**
 * `--container <spec>` to one container: exact name, full id, or unique id prefix; running
 * containers win over stopped ones of the same name. A plain `ip netns` name is accepted too, as
 * `droptrace containers` lists it, when no container has that name.
 */
import { DroptraceError } from '../errors.js';
import { excerpt, shortList } from '../output/escape.js';
import type { ContainerInfo } from './types.js';

export const CONTAINER_UNKNOWN = 'ERR_DROPTRACE_CONTAINER_UNKNOWN';
export const CONTAINER_AMBIGUOUS = 'ERR_DROPTRACE_CONTAINER_AMBIGUOUS';

const label = (c: ContainerInfo) => `${excerpt(c.name, 48)} (${c.runtime} ${c.id.slice(0, 12)})`;

/** The container `spec` names among `all`, null when none; throws when it names several. */
export function findContainer(all: readonly ContainerInfo[], spec: string): ContainerInfo | null {
  const candidates = all.filter((c) => c.runtime !== 'netns');
  const pick = (list: ContainerInfo[]): ContainerInfo | null => {
    if (list.length === 0) return null;
    const live = list.filter((c) => c.running);
    const pool = live.length ? live : list;
    if (pool.length > 1) {
      throw new DroptraceError(
        CONTAINER_AMBIGUOUS,
        `"${excerpt(spec)}" matches ${pool.length} containers: ${shortList(pool.map(label))}`,
        'give a longer id',
      );
    }
    return pool[0] ?? null;
  };
  return (
    pick(candidates.filter((c) => c.name === spec)) ??
    pick(candidates.filter((c) => c.id === spec)) ??
    (/^[0-9a-f]+$/.test(spec) ? pick(candidates.filter((c) => c.id.startsWith(spec))) : null) ??
    pick(all.filter((c) => c.runtime === 'netns' && c.name === spec))
  );
}

function sharedPrefix(a: string, b: string): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

/** The error for a spec that names nothing: what is running, and which sources failed. */
export function unknownContainer(spec: string, all: readonly ContainerInfo[], sourceErrors: readonly DroptraceError[]): DroptraceError {
  // the names closest to what was typed first: a long list is cut, and a near-miss should show
  const closest = (a: string, b: string) => sharedPrefix(b, spec) - sharedPrefix(a, spec) || a.localeCompare(b);
  const running = all.filter((c) => c.running && c.runtime !== 'netns').sort((a, b) => closest(a.name, b.name));
  const named = all
    .filter((c) => c.runtime === 'netns')
    .map((c) => c.name)
    .sort(closest);
  const failing = sourceErrors.map((e) => e.message);
  return new DroptraceError(
    CONTAINER_UNKNOWN,
    `no container or ip netns named or with id "${excerpt(spec)}"; running: ${shortList(running.map(label)) || 'none'}` +
      `; ip netns: ${shortList(named) || 'none'}` +
      (failing.length ? `; sources that failed: ${failing.join('; ')}` : ''),
    '--container takes a name or id (or id prefix) that `droptrace containers` lists, or an `ip netns` name',
  );
}
