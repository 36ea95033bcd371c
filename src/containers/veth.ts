/**
 * The host ends of a container's veths: `ip -o link` inside its namespace says `eth0@if12`, and
 * 12 is the peer's ifindex in the namespace it lives in (the host's, for Docker's bridge network).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { nsenterRunner } from '../readers/netns-exec.js';

export interface VethPair {
  /** The device inside the container. */
  inner: string;
  /** Its peer's name in the host namespace, or `if<N>` when the host has no such ifindex. */
  host: string;
}

/** `ip -o link` lines to (inner name, peer ifindex). */
export function parseLinkPeers(text: string): { inner: string; peerIndex: number }[] {
  const out: { inner: string; peerIndex: number }[] = [];
  for (const m of text.matchAll(/^\d+: ([^@:\s]+)@if(\d+):/gm)) out.push({ inner: m[1], peerIndex: Number(m[2]) });
  return out;
}

function hostIfnames(sysClassNet = '/sys/class/net'): Map<number, string> {
  const names = new Map<number, string>();
  for (const name of readdirSync(sysClassNet)) {
    try {
      names.set(Number(readFileSync(`${sysClassNet}/${name}/ifindex`, 'utf8')), name);
    } catch {
      // gone meanwhile
    }
  }
  return names;
}

export async function hostVeths(pid: number): Promise<VethPair[]> {
  const res = await nsenterRunner(`/proc/${pid}/ns/net`, ['ip', '-o', 'link', 'show']).catch(() => null);
  if (res?.code !== 0) return [];
  const host = hostIfnames();
  return parseLinkPeers(res.stdout).map(({ inner, peerIndex }) => ({ inner, host: host.get(peerIndex) ?? `if${peerIndex}` }));
}
