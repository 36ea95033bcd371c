/**
 * The host's name, carried by every record so that a fleet's log pipeline can tell nodes apart:
 * DROPTRACE_HOST when set (a Kubernetes DaemonSet passes the node's name, since a pod's hostname
 * is its own), else the kernel's hostname. Read once per process.
 */
import { hostname } from 'node:os';

export function resolveHostName(env: NodeJS.ProcessEnv, kernelHostname: string): string {
  return env.DROPTRACE_HOST?.trim() || kernelHostname || 'localhost';
}

let cached: string | undefined;

export function hostName(): string {
  cached ??= resolveHostName(process.env, hostname());
  return cached;
}
