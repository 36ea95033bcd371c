/**
 * What to trace, as a user says it (the CLI's filter flags and the library's options share these
 * names): namespaces by `ip netns` name, inode or path, processes, containers, reasons, protocol
 * and port. Names are resolved here, so a typo fails before anything is loaded.
 */
import { resolveNetns } from './containers/netns-names.js';
import { DroptraceError } from './errors.js';
import type { TraceFilter } from './filter.js';
import { netnsOfPid } from './kernel/netns.js';
import type { WatchedNetns } from './kernel/netns-watch.js';
import { excerpt } from './output/escape.js';

export interface Selection {
  /** Network namespaces: `ip netns` names, inode numbers or paths such as /proc/<pid>/ns/net. */
  netns?: Array<string | number>;
  /** The network namespaces of these processes. */
  pid?: Array<string | number>;
  /** Containers by name or id (Docker, podman, CRI, …), followed across restarts. */
  container?: string[];
  /** Kubernetes pods as <namespace>/<name>, followed when deleted and created again. */
  pod?: string[];
  /** Every pod of these Kubernetes namespaces, as they come and go. */
  k8sNamespace?: string[];
  /** Where pods are named from: the CRI runtime's socket (containerd, CRI-O); default: the usual paths, where one exists. */
  criSocket?: string;
  /** Drop reasons as the kernel names them (NETFILTER_DROP; the SKB_DROP_REASON_ prefix is optional). */
  reason?: string[];
  proto?: string;
  port?: number;
}

/** The namespaces the selection names (not containers'), with the name or file each was named by. */
export function namespacesOf(s: Selection): WatchedNetns[] {
  return [
    ...(s.netns ?? []).map((n) => resolveNetns(String(n))),
    ...(s.pid ?? []).map((p) => ({ inode: netnsOfPid(String(p)), name: null, path: `/proc/${p}/ns/net` })),
  ];
}

/** The kernel filter for everything but containers (their entities are added by the follower). */
export function filterOf(s: Selection, namespaces = namespacesOf(s)): TraceFilter {
  const netns = namespaces.map((n) => n.inode);
  const reasons = (s.reason ?? []).map((r) => r.toUpperCase().replace(/^SKB_DROP_REASON_/, ''));
  for (const r of reasons) {
    if (!/^[A-Z0-9_]+$/.test(r))
      throw new DroptraceError(
        'ERR_DROPTRACE_FILTER_REASON',
        `bad reason name: ${excerpt(r)}`,
        'reason names look like NETFILTER_DROP; `droptrace reasons` lists them',
      );
  }
  return {
    ...(netns.length ? { netns } : {}),
    ...(reasons.length ? { reasons } : {}),
    ...(s.proto ? { proto: s.proto } : {}),
    ...(s.port ? { port: s.port } : {}),
  };
}
