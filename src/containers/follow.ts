/**
 * `--container nginx`: the kernel filter follows the container. It is written from the container's
 * netns, cgroup and addresses, and rewritten on every change the index reports: a restart brings a
 * new netns and maybe a new address, and a dead container's netns inode is handed to the next
 * namespace created, so a stale filter could trace a stranger.
 */
import type { ContainerChange, ContainerIndex, ContainerInfo } from './index.js';

export interface ContainerEntities {
  netns: number[];
  cgroups: bigint[];
  addresses: string[];
}

/** What became of a followed container: it stopped (nothing of it is traced), is running, or came back as a new incarnation. */
export type FollowedState = 'stopped' | 'running' | 'restarted';

export class ContainerFollower {
  private readonly followed = new Map<string, ContainerInfo | null>();
  private readonly onChange = (change: ContainerChange) => this.update(change);

  constructor(
    private readonly index: ContainerIndex,
    private readonly specs: string[],
    private readonly apply: (entities: ContainerEntities) => void,
    private readonly log: (line: string) => void,
    private readonly onState: (spec: string, state: FollowedState, container: ContainerInfo) => void = () => {},
  ) {}

  /** Resolves every spec (an unknown one throws ERR_DROPTRACE_CONTAINER_UNKNOWN), then follows. */
  async start(): Promise<ContainerEntities> {
    for (const spec of this.specs) this.followed.set(spec, await this.index.resolve(spec));
    this.index.on('change', this.onChange);
    return this.entities();
  }

  stop(): void {
    this.index.off('change', this.onChange);
  }

  containers(): ContainerInfo[] {
    return [...this.followed.values()].filter((c): c is ContainerInfo => c !== null);
  }

  private update(_change: ContainerChange): void {
    for (const spec of this.specs) {
      const before = this.followed.get(spec) ?? null;
      let after: ContainerInfo | null = null;
      try {
        after = this.index.find(spec);
      } catch {
        after = before; // ambiguous for a moment (an old and a new container of that name): keep the one we had
      }
      const live = after?.running && after.netns !== null ? after : null;
      this.followed.set(spec, live ?? (before ? { ...before, running: false, netns: null } : null));
      if (before?.running && !live) {
        this.log(`${spec} stopped; still following it, tracing resumes when it is back`);
        this.onState(spec, 'stopped', before);
      } else if (live && !before?.running) {
        this.log(`${spec} is running: ${describe(live)}`);
        this.onState(spec, 'running', live);
      } else if (
        live &&
        before &&
        (live.netns !== before.netns || live.pid !== before.pid || live.addresses.join() !== before.addresses.join())
      ) {
        this.log(`${spec} restarted: ${describe(live)}`);
        this.onState(spec, 'restarted', live);
      }
    }
    // always rewritten: even an unchanged inode may now belong to another namespace
    this.apply(this.entities());
  }

  private entities(): ContainerEntities {
    const live = this.containers().filter((c) => c.running);
    return {
      netns: live.flatMap((c) => (c.netns !== null ? [c.netns] : [])),
      cgroups: live.flatMap((c) => (c.cgroupId !== null ? [c.cgroupId] : [])),
      addresses: live.flatMap((c) => c.addresses),
    };
  }
}

function describe(c: ContainerInfo): string {
  return `pid ${c.pid}, netns ${c.netns}${c.addresses.length ? `, ${c.addresses.join(' ')}` : ''}`;
}
