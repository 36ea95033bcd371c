/**
 * Containers as the Docker Engine API (or podman's compatible API) describes them, completed
 * with what only the kernel knows: the netns inode and cgroup id of the container's init.
 */
import { isAttributable, normalizeAddress } from './address.js';
import type { ApiContainerInspect, ApiContainerSummary, ApiNetwork, DockerApi } from './docker-api.js';
import { addressesOf, cgroupIdOf, netnsOf } from './proc.js';
import type { ContainerInfo, ContainerSource, RuntimeChange } from './types.js';

const WATCHED_ACTIONS = ['start', 'die', 'restart', 'destroy'];
/** Inspect this many containers at once: enough to hide latency, few enough not to load the engine. */
const INSPECT_CONCURRENCY = 8;

export function addressesFromNetworks(
  networks: Record<string, ApiNetwork> | null | undefined,
  top?: { IPAddress?: string; GlobalIPv6Address?: string } | null,
): string[] {
  const out = new Set<string>();
  const add = (a: string | undefined) => {
    if (!a) return;
    const n = normalizeAddress(a);
    if (n !== null && isAttributable(n)) out.add(n);
  };
  for (const net of Object.values(networks ?? {})) {
    add(net.IPAddress);
    add(net.GlobalIPv6Address);
  }
  add(top?.IPAddress);
  add(top?.GlobalIPv6Address);
  return [...out];
}

function podFields(labels: Record<string, string> | null | undefined): Pick<ContainerInfo, 'pod' | 'namespace'> {
  const pod = labels?.['io.kubernetes.pod.name'];
  const namespace = labels?.['io.kubernetes.pod.namespace'];
  return { ...(pod ? { pod } : {}), ...(namespace ? { namespace } : {}) };
}

/** ContainerInfo from an inspect answer; kernel facts are read for the running init pid. */
export function infoFromInspect(c: ApiContainerInspect, runtime: string): ContainerInfo {
  const running = c.State?.Running === true;
  const pid = running && c.State?.Pid ? c.State.Pid : null;
  let netns: number | null = null;
  let cgroupId: bigint | null = null;
  if (pid !== null) {
    netns = netnsOf(pid);
    cgroupId = cgroupIdOf(pid);
  }
  let addresses = addressesFromNetworks(c.NetworkSettings?.Networks, c.NetworkSettings);
  // Containers sharing another's netns (`--network container:x`) report no address of their own.
  if (addresses.length === 0 && pid !== null) addresses = addressesOf(pid);
  return {
    id: c.Id,
    name: (c.Name ?? c.Id.slice(0, 12)).replace(/^\//, ''),
    runtime,
    image: c.Config?.Image ?? c.Image ?? null,
    pid,
    ...podFields(c.Config?.Labels),
    netns: netns,
    cgroupId,
    addresses,
    // The process may have exited between the API's answer and our look at /proc.
    running: running && netns !== null,
  };
}

export function infoFromSummary(c: ApiContainerSummary, runtime: string): ContainerInfo {
  return {
    id: c.Id,
    name: (c.Names?.[0] ?? c.Id.slice(0, 12)).replace(/^\//, ''),
    runtime,
    image: c.Image ?? null,
    pid: null,
    ...podFields(c.Labels),
    netns: null,
    cgroupId: null,
    addresses: addressesFromNetworks(c.NetworkSettings?.Networks),
    running: false,
  };
}

export class DockerSource implements ContainerSource {
  readonly name: string;

  constructor(readonly api: DockerApi) {
    this.name = api.runtime;
  }

  async list(): Promise<ContainerInfo[]> {
    const all = await this.api.listContainers({ all: true });
    const out: ContainerInfo[] = [];
    const running = all.filter((c) => c.State === 'running');
    for (const c of all) if (c.State !== 'running') out.push(infoFromSummary(c, this.name));
    for (let i = 0; i < running.length; i += INSPECT_CONCURRENCY) {
      const batch = await Promise.all(running.slice(i, i + INSPECT_CONCURRENCY).map((c) => this.api.inspect(c.Id)));
      for (const c of batch) if (c) out.push(infoFromInspect(c, this.name));
    }
    return out;
  }

  async inspect(idOrName: string): Promise<ContainerInfo | null> {
    const c = await this.api.inspect(idOrName);
    return c ? infoFromInspect(c, this.name) : null;
  }

  /**
   * Follows start/die/restart/destroy. When the stream breaks (engine restarted), reconnects
   * with back-off, replays from the last event seen, and reports `reconnect` with the first event
   * of the new stream, since anything may have happened meanwhile.
   */
  watch(onChange: (change: RuntimeChange) => void): () => void {
    let stopped = false;
    let stopStream: (() => void) | null = null;
    let retry: NodeJS.Timeout | null = null;
    let delay = 250;
    // Replay from the moment we were asked to watch, then from the last event seen.
    let since = Math.floor(Date.now() / 1000);
    const connect = (reconnecting: boolean) => {
      if (stopped) return;
      let heard = false;
      // only a stream that came back is news: a socket that is simply absent (no engine) retries
      // quietly instead of making the index rescan /proc at every attempt
      let owed = reconnecting;
      stopStream = this.api.events(
        { type: ['container'], event: WATCHED_ACTIONS },
        (ev) => {
          heard = true;
          delay = 250;
          if (owed) {
            owed = false;
            onChange({ id: null, action: 'reconnect' });
          }
          if (typeof ev.time === 'number') since = ev.time;
          const action = ev.Action ?? ev.status ?? '';
          if (!WATCHED_ACTIONS.includes(action)) return;
          onChange({ id: ev.Actor?.ID ?? ev.id ?? null, action });
        },
        () => {
          if (stopped) return;
          if (heard) delay = 250;
          retry = setTimeout(() => connect(true), delay);
          retry.unref();
          delay = Math.min(delay * 2, 10_000);
        },
        { since },
      );
    };
    connect(false);
    return () => {
      stopped = true;
      if (retry) clearTimeout(retry);
      stopStream?.();
    };
  }
}
