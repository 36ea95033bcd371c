/**
 * What every tracing verb sets up before loading: the filter from the options, the container index
 * for attribution, and, with --container, the follower that keeps the kernel filter on the container.
 */
import type { ContainerEntities } from '../containers/follow.js';
import { ContainerFollower } from '../containers/follow.js';
import { ContainerIndex, type ContainerInfo, toContainer } from '../containers/index.js';
import type { Attribution } from '../enrich.js';
import type { Container, TraceEvent } from '../events.js';
import type { TraceFilter } from '../filter.js';
import { Session, type SessionOptions } from '../session.js';
import { type FilterOptions, filterFromOptions } from './options.js';

export interface ContainerOptions extends FilterOptions {
  container: string[];
}

export interface Prepared {
  filter: TraceFilter;
  index: ContainerIndex;
  follower: ContainerFollower | undefined;
  attribute(event: TraceEvent): Attribution;
  /** Where rewritten filters go once the session exists. */
  onFilter: (filter: TraceFilter) => void;
  close(): void;
}

function withEntities(base: TraceFilter, e: ContainerEntities): TraceFilter {
  return { ...base, netns: [...(base.netns ?? []), ...e.netns], cgroups: e.cgroups, addresses: e.addresses, restrict: true };
}

export async function prepare(opts: ContainerOptions, err: NodeJS.WritableStream): Promise<Prepared> {
  const base = filterFromOptions(opts);
  // the periodic full refresh is only a backstop (runtime events and misses refresh it): every 30 s
  const index = new ContainerIndex({ pollMs: 30_000 });
  const containers = new WeakMap<ContainerInfo, Container>();
  const prepared: Prepared = {
    filter: base,
    index,
    follower: undefined,
    attribute(event) {
      const hit = index.attribute(event);
      if (!hit) return { container: null, via: null };
      let c = containers.get(hit.container);
      if (!c) {
        c = toContainer(hit.container);
        containers.set(hit.container, c);
      }
      return { container: c, via: hit.via };
    },
    onFilter: () => {},
    close: () => {
      prepared.follower?.stop();
      index.stop();
    },
  };
  if (opts.container.length) {
    // Before start(): a source that fails then (Docker API unreachable) warns only once, on the first load.
    const warned = new Set<string>();
    index.on('warning', (e) => {
      if (warned.has(e.code)) return;
      warned.add(e.code);
      err.write(`droptrace: warning [${e.code}]: ${e.message}\n`);
    });
  }
  await index.start();
  if (opts.container.length) {
    const follower = new ContainerFollower(
      index,
      opts.container,
      (entities) => prepared.onFilter(withEntities(base, entities)),
      (line) => err.write(`droptrace: ${line}\n`),
    );
    try {
      prepared.filter = withEntities(base, await follower.start());
    } catch (e) {
      index.stop();
      throw e;
    }
    prepared.follower = follower;
  }
  return prepared;
}

/** prepare(), then the session on its filter, with --container's rewrites routed to it. */
export async function openSession(
  opts: ContainerOptions,
  err: NodeJS.WritableStream,
  options: Omit<SessionOptions, 'filter'> = {},
): Promise<{ prepared: Prepared; session: Session }> {
  const prepared = await prepare(opts, err);
  try {
    const session = Session.open({ ...options, filter: prepared.filter });
    prepared.onFilter = (filter) => session.applyFilter(filter);
    return { prepared, session };
  } catch (e) {
    prepared.close();
    throw e;
  }
}
