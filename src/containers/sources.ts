/**
 * The container sources and how their answers combine: the default set in order of preference,
 * one merged list per refresh, and what changed between two lists.
 */
import { DroptraceError } from '../errors.js';
import { CriClient } from './cri-client.js';
import { CriSource } from './cri-source.js';
import { DockerApi } from './docker-api.js';
import { DockerSource } from './docker-source.js';
import { NetnsNamesSource } from './netns-names.js';
import { ProcfsSource } from './procfs-source.js';
import type { ContainerInfo, ContainerSource } from './types.js';

export interface ContainerChange {
  added: ContainerInfo[];
  removed: ContainerInfo[];
  /** Same container id, new incarnation or new facts (restart: new pid, netns, maybe address). */
  changed: Array<{ before: ContainerInfo; after: ContainerInfo }>;
}

/** A source that could not even be configured, so its error shows where the others' do. */
function failing(name: string, err: DroptraceError): ContainerSource {
  return { name, list: () => Promise.reject(err) };
}

export interface SourceOptions {
  /** The CRI runtime's socket; default: containerd's or CRI-O's where one exists. */
  criSocket?: string;
}

/**
 * Docker API (DOCKER_HOST or the default socket), podman's socket when present, the CRI runtime
 * (pods) when its socket is given or found, procfs, `ip netns` names.
 */
export function defaultSources(env: NodeJS.ProcessEnv = process.env, opts: SourceOptions = {}): ContainerSource[] {
  const out: ContainerSource[] = [];
  try {
    out.push(new DockerSource(DockerApi.fromEnv(env)));
  } catch (e) {
    out.push(failing('docker', e as DroptraceError));
  }
  const podman = DockerApi.podman();
  if (podman) out.push(new DockerSource(podman));
  const cri = opts.criSocket ?? CriClient.defaultSocket();
  if (cri) out.push(new CriSource(new CriClient(cri)));
  out.push(new ProcfsSource(), new NetnsNamesSource());
  return out;
}

export interface SourceResult {
  source: ContainerSource;
  list: ContainerInfo[];
  error: DroptraceError | null;
}

/** Every source's list, or its error as a DroptraceError; one slow source never hides the others' answers. */
export async function listAll(sources: readonly ContainerSource[]): Promise<SourceResult[]> {
  return Promise.all(
    sources.map((source) =>
      source.list().then(
        (list) => ({ source, list, error: null }),
        (err: unknown) => ({
          source,
          list: [],
          error:
            err instanceof DroptraceError
              ? err
              : new DroptraceError('ERR_DROPTRACE_CONTAINER_SOURCE', `${source.name}: ${String(err)}`, undefined, { cause: err }),
        }),
      ),
    ),
  );
}

/** One container per id: a preferred source's answer stands; a later one only fills what it left empty. */
export function mergeSources(results: readonly SourceResult[]): ContainerInfo[] {
  const merged = new Map<string, ContainerInfo>();
  for (const { list } of results) {
    for (const info of list) {
      const have = merged.get(info.id);
      if (!have) {
        merged.set(info.id, { ...info, addresses: [...info.addresses] });
        continue;
      }
      if (have.running && info.running) {
        have.netns ??= info.netns;
        have.cgroupId ??= info.cgroupId;
        have.pid ??= info.pid;
        if (have.addresses.length === 0) have.addresses = [...info.addresses];
        if (have.pod_uid === undefined && info.pod_uid !== undefined) have.pod_uid = info.pod_uid;
      }
    }
  }
  return [...merged.values()];
}

function sameFacts(a: ContainerInfo, b: ContainerInfo): boolean {
  return (
    a.pid === b.pid &&
    a.netns === b.netns &&
    a.cgroupId === b.cgroupId &&
    a.name === b.name &&
    a.addresses.length === b.addresses.length &&
    a.addresses.every((x, i) => x === b.addresses[i])
  );
}

/** Running containers that appeared, went away or changed between two merged lists. */
export function diffContainers(before: readonly ContainerInfo[], after: readonly ContainerInfo[]): ContainerChange {
  const was = new Map(before.filter((c) => c.running).map((c) => [c.id, c]));
  const now = new Map(after.filter((c) => c.running).map((c) => [c.id, c]));
  const change: ContainerChange = { added: [], removed: [], changed: [] };
  for (const [id, c] of now) {
    const b = was.get(id);
    if (!b) change.added.push(c);
    else if (!sameFacts(b, c)) change.changed.push({ before: b, after: c });
  }
  for (const [id, c] of was) if (!now.has(id)) change.removed.push(c);
  return change;
}

export function isEmptyChange(c: ContainerChange): boolean {
  return c.added.length === 0 && c.removed.length === 0 && c.changed.length === 0;
}
