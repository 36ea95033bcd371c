/**
 * Pods and their containers as the node's CRI runtime (containerd, CRI-O) describes them,
 * completed with what only the kernel knows: netns inodes and cgroup ids of their processes.
 *
 * A pod is one sandbox that owns the network namespace all its containers share, so a drop in
 * that namespace belongs to the pod: the sandbox is listed first and carries `sandbox: true`.
 * Each container is listed after it with its own cgroup, which names it when a socket's cgroup
 * says which container the drop concerns.
 */
import { statSync } from 'node:fs';
import { isAttributable, normalizeAddress } from './address.js';
import {
  type CriClient,
  type CriContainer,
  type CriContainerEvent,
  type CriPodSandbox,
  type CriPodSandboxStatus,
  type CriVerboseInfo,
  GRPC_UNIMPLEMENTED,
  grpcCodeOf,
} from './cri-client.js';
import { cgroupIdOf, netnsOf } from './proc.js';
import type { ContainerInfo, ContainerSource, RuntimeChange } from './types.js';

/** Status calls at once: enough to hide latency, few enough not to load the runtime. */
const STATUS_CONCURRENCY = 8;
/** How often the lists are compared when the runtime has no event stream (containerd 1.6). */
const DEFAULT_POLL_MS = 1000;

/** `containerd`, `cri-o`: the runtime's own name, as the record's `runtime` says it. */
export function runtimeLabel(runtimeName: string): string {
  const n = runtimeName.toLowerCase();
  if (n.includes('containerd')) return 'containerd';
  if (n.includes('cri-o') || n === 'crio') return 'cri-o';
  return n || 'cri';
}

function netnsOfPath(path: string | null): number | null {
  if (path === null) return null;
  try {
    return statSync(path).ino;
  } catch {
    return null;
  }
}

function podAddresses(status: CriPodSandboxStatus): string[] {
  const out = new Set<string>();
  for (const a of [status.network?.ip, ...(status.network?.additional_ips ?? []).map((x) => x.ip)]) {
    if (!a) continue;
    const n = normalizeAddress(a);
    if (n !== null && isAttributable(n)) out.add(n);
  }
  return [...out];
}

/** The sandbox as a ContainerInfo: the pod, named by its Kubernetes name. */
export function sandboxInfo(status: CriPodSandboxStatus, info: CriVerboseInfo, runtime: string): ContainerInfo {
  const ready = status.state === 'SANDBOX_READY';
  const pid = ready ? info.pid : null;
  const netns = !ready ? null : pid !== null ? netnsOf(pid) : netnsOfPath(info.netnsPath);
  const meta = status.metadata;
  return {
    id: status.id,
    name: meta?.name || status.id.slice(0, 12),
    runtime,
    image: null,
    pid,
    ...(meta?.name ? { pod: meta.name } : {}),
    ...(meta?.namespace ? { namespace: meta.namespace } : {}),
    ...(meta?.uid ? { pod_uid: meta.uid } : {}),
    sandbox: true,
    netns,
    cgroupId: pid !== null ? cgroupIdOf(pid) : null,
    addresses: podAddresses(status),
    running: ready && netns !== null,
  };
}

/** A container in a pod, named by its name in the pod spec. */
export function containerInfo(c: CriContainer, pod: CriPodSandbox | undefined, info: CriVerboseInfo, runtime: string): ContainerInfo {
  const running = c.state === 'CONTAINER_RUNNING';
  const pid = running ? info.pid : null;
  const netns = pid !== null ? netnsOf(pid) : null;
  const meta = pod?.metadata;
  return {
    id: c.id,
    name: c.metadata?.name || c.id.slice(0, 12),
    runtime,
    image: c.image?.image || c.image_ref || null,
    pid,
    ...(meta?.name ? { pod: meta.name } : {}),
    ...(meta?.namespace ? { namespace: meta.namespace } : {}),
    ...(meta?.uid ? { pod_uid: meta.uid } : {}),
    netns,
    cgroupId: pid !== null ? cgroupIdOf(pid) : null,
    addresses: [],
    running: running && netns !== null,
  };
}

async function inBatches<T, R>(items: T[], f: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += STATUS_CONCURRENCY)
    out.push(...(await Promise.all(items.slice(i, i + STATUS_CONCURRENCY).map(f))));
  return out;
}

export interface CriSourceOptions {
  /** Poll period when the runtime has no event stream (default 1000 ms). */
  pollMs?: number;
}

export class CriSource implements ContainerSource {
  readonly name = 'cri';
  private runtime: string | null = null;
  private readonly pollMs: number;

  constructor(
    readonly client: CriClient,
    opts: CriSourceOptions = {},
  ) {
    this.pollMs = opts.pollMs ?? DEFAULT_POLL_MS;
  }

  async list(): Promise<ContainerInfo[]> {
    if (this.runtime === null) this.runtime = runtimeLabel((await this.client.version()).runtime_name);
    const runtime = this.runtime;
    const [sandboxes, containers] = await Promise.all([this.client.listPodSandbox(), this.client.listContainers()]);
    const byId = new Map(sandboxes.map((s) => [s.id, s]));
    // a status call that fails (the pod went away meanwhile) drops that one entry, not the list
    const pods = await inBatches(sandboxes, async (s) => {
      if (s.state !== 'SANDBOX_READY') return sandboxInfo({ ...s, network: null }, { pid: null, netnsPath: null }, runtime);
      try {
        const { status, info } = await this.client.podSandboxStatus(s.id);
        return sandboxInfo(status, info, runtime);
      } catch {
        return null;
      }
    });
    const ctrs = await inBatches(containers, async (c) => {
      if (c.state !== 'CONTAINER_RUNNING') return containerInfo(c, byId.get(c.pod_sandbox_id), { pid: null, netnsPath: null }, runtime);
      try {
        const { info } = await this.client.containerStatus(c.id);
        return containerInfo(c, byId.get(c.pod_sandbox_id), info, runtime);
      } catch {
        return null;
      }
    });
    // sandboxes first: the index gives a shared netns to the first entry that claims it
    return [...pods, ...ctrs].filter((x): x is ContainerInfo => x !== null);
  }

  /**
   * The CRI event stream where the runtime has it (containerd 1.7+, CRI-O); otherwise, or while
   * the stream is down, a cheap comparison of the two lists every pollMs.
   */
  watch(onChange: (change: RuntimeChange) => void): () => void {
    let stopped = false;
    let cancel: (() => void) | null = null;
    let timer: NodeJS.Timeout | null = null;
    let last: Map<string, string> | null = null;

    const poll = async () => {
      let now: Map<string, string>;
      try {
        const [s, c] = await Promise.all([this.client.listPodSandbox(), this.client.listContainers()]);
        now = new Map([...s.map((x) => [x.id, x.state] as const), ...c.map((x) => [x.id, x.state] as const)]);
      } catch {
        return; // the runtime is away; the index's refresh reports that
      }
      if (stopped) return;
      if (last !== null) {
        for (const [id, state] of now) {
          if (last.get(id) === state) continue;
          const up = state === 'SANDBOX_READY' || state === 'CONTAINER_RUNNING';
          onChange({ id, action: up ? 'start' : 'die' });
        }
        for (const id of last.keys()) if (!now.has(id)) onChange({ id, action: 'destroy' });
      }
      last = now;
    };
    const startPolling = () => {
      if (stopped || timer) return;
      void poll();
      timer = setInterval(() => void poll(), this.pollMs);
      timer.unref();
    };
    const onEvent = (ev: CriContainerEvent) => {
      const id = ev.container_id || ev.pod_sandbox_status?.id || null;
      const action =
        ev.container_event_type === 'CONTAINER_STARTED_EVENT'
          ? 'start'
          : ev.container_event_type === 'CONTAINER_STOPPED_EVENT'
            ? 'die'
            : ev.container_event_type === 'CONTAINER_DELETED_EVENT'
              ? 'destroy'
              : null;
      if (action) onChange({ id, action });
    };
    const connect = () => {
      if (stopped) return;
      cancel = this.client.events(onEvent, (err) => {
        cancel = null;
        if (stopped) return;
        // no stream in this runtime: poll for good; a stream that broke: poll until it is back
        startPolling();
        if (err && grpcCodeOf(err) === GRPC_UNIMPLEMENTED) return;
        const retry = setTimeout(() => {
          if (timer) clearInterval(timer);
          timer = null;
          onChange({ id: null, action: 'reconnect' });
          connect();
        }, 5000);
        retry.unref();
      });
    };
    connect();
    return () => {
      stopped = true;
      cancel?.();
      if (timer) clearInterval(timer);
      // the index stops following for good: the channel goes with it
      this.client.close();
    };
  }
}
