/**
 * What the container sources hand to the index: the event's `Container` plus the kernel-side
 * identities a drop can be matched on (netns inode, cgroup v2 id, addresses).
 */
import type { Container } from '../events.js';

export interface ContainerInfo extends Container {
  /** Inode of the container's network namespace (`stat /proc/<pid>/ns/net`); null when not running. */
  netns: number | null;
  /** cgroup v2 id: inode of the container's directory in the cgroup2 hierarchy; null when unknown. */
  cgroupId: bigint | null;
  /** The container's own IPv4 and IPv6 addresses (canonical text form), no loopback or link-local. */
  addresses: string[];
  running: boolean;
}

/** A runtime event that may change what the sources report. */
export interface RuntimeChange {
  /** Full container id when the event names one. */
  id: string | null;
  /** start, die, restart, destroy, or `reconnect` after the event stream was down (anything may have changed). */
  action: string;
}

/** One source of containers (Docker API, podman API, procfs scan, `ip netns` names). */
export interface ContainerSource {
  /** Short name used in warnings: docker, podman, procfs, netns. */
  readonly name: string;
  list(): Promise<ContainerInfo[]>;
  /** Follows the runtime's events; returns a function that stops following. */
  watch?(onChange: (change: RuntimeChange) => void): () => void;
}

/** The `Container` of an event record, fields in the schema's key order, nothing else. */
export function toContainer(info: ContainerInfo): Container {
  const c: Container = { id: info.id, name: info.name, runtime: info.runtime, image: info.image, pid: info.pid };
  if (info.pod !== undefined) c.pod = info.pod;
  if (info.namespace !== undefined) c.namespace = info.namespace;
  if (info.pod_uid !== undefined) c.pod_uid = info.pod_uid;
  if (info.sandbox) c.sandbox = true;
  return c;
}
