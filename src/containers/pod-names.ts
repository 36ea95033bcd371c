/**
 * `--pod <namespace>/<name>` and `--k8s-namespace <namespace>`: which of the index's entries
 * belong to a Kubernetes pod or namespace. A pod is its sandbox (owner of the pod's netns) and its
 * containers; a pod deleted and created again under its name is a new sandbox with the same name.
 */
import { DroptraceError } from '../errors.js';
import type { ContainerInfo } from './types.js';

export const POD_UNKNOWN = 'ERR_DROPTRACE_POD_UNKNOWN';

export interface PodRef {
  namespace: string;
  name: string;
}

/** Kubernetes names (RFC 1123 labels and subdomains) are lower-case alphanumerics, '-' and '.'. */
const K8S_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export function parsePodSpec(spec: string): PodRef {
  const at = spec.indexOf('/');
  const namespace = at < 0 ? '' : spec.slice(0, at);
  const name = at < 0 ? '' : spec.slice(at + 1);
  if (!K8S_NAME.test(namespace) || !K8S_NAME.test(name)) {
    throw new DroptraceError(
      'ERR_DROPTRACE_OPTION_POD',
      `--pod ${JSON.stringify(spec)}: a pod is written <namespace>/<name>, e.g. default/web-7d4b9c`,
      'as `kubectl get pods -A` lists them; `droptrace containers` lists the pods droptrace sees',
    );
  }
  return { namespace, name };
}

export function parseK8sNamespace(spec: string): string {
  if (!K8S_NAME.test(spec)) {
    throw new DroptraceError(
      'ERR_DROPTRACE_OPTION_K8S_NAMESPACE',
      `--k8s-namespace ${JSON.stringify(spec)}: not a Kubernetes namespace name`,
      'namespace names are lower-case letters, digits and "-", e.g. kube-system',
    );
  }
  return spec;
}

/** Running entries of the pod: its sandbox and its containers. */
export function podMembers(all: readonly ContainerInfo[], ref: PodRef): ContainerInfo[] {
  return all.filter((c) => c.running && c.pod === ref.name && c.namespace === ref.namespace);
}

export function namespaceMembers(all: readonly ContainerInfo[], namespace: string): ContainerInfo[] {
  return all.filter((c) => c.running && c.pod !== undefined && c.namespace === namespace);
}

/** The pods the index knows, as namespace/name, each once, sorted. */
export function knownPods(all: readonly ContainerInfo[]): string[] {
  const out = new Set<string>();
  for (const c of all) if (c.running && c.pod !== undefined && c.namespace !== undefined) out.add(`${c.namespace}/${c.pod}`);
  return [...out].sort();
}

export function unknownPod(ref: PodRef, all: readonly ContainerInfo[], sourceErrors: readonly DroptraceError[]): DroptraceError {
  const pods = knownPods(all);
  const failing = sourceErrors.map((e) => e.message);
  return new DroptraceError(
    POD_UNKNOWN,
    `no running pod ${ref.namespace}/${ref.name}; pods: ${pods.join(', ') || 'none'}` +
      (failing.length ? `; sources that failed: ${failing.join('; ')}` : ''),
    "pods are named through the node's CRI runtime (containerd, CRI-O): give its socket with --cri-socket if it is not at the usual path",
  );
}
