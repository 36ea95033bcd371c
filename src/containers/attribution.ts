/**
 * Which container an event concerns, and how that is known: its own netns, its socket's cgroup,
 * the container at the other end of the veth, or (in the host's namespace only) its address.
 */
import type { ContainerVia } from '../events.js';
import type { ContainerInfo } from './types.js';

/** The event fields attribution reads (a DropRecord or RetransmitRecord has them all). */
export interface AttributionInput {
  netns: number;
  cgroup_id: string | bigint | null;
  peer?: { netns: number } | null;
  saddr: string | null;
  daddr: string | null;
}

export interface Attribution {
  container: ContainerInfo;
  via: ContainerVia;
}

/** The look-ups attribution needs; the index answers them from its maps. */
export interface ContainerLookups {
  readonly hostNetns: number | null;
  byNetns(inode: number): ContainerInfo | null;
  byCgroup(id: bigint): ContainerInfo | null;
  byAddress(addr: string): ContainerInfo | null;
}

function cgroupOf(value: string | bigint | null): bigint | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return value > 0n ? value : null;
  try {
    const id = BigInt(value);
    return id > 0n ? id : null;
  } catch {
    return null;
  }
}

/**
 * In order: netns, cgroup, veth peer, address; a plain `ip netns` peer only when nothing better
 * names it. In a pod's netns, a socket's cgroup that belongs to one of the pod's containers names it.
 */
export function attribute(find: ContainerLookups, ev: AttributionInput): Attribution | null {
  let c = find.byNetns(ev.netns);
  const cgroup = cgroupOf(ev.cgroup_id);
  if (c) {
    // a pod's netns names the pod; the socket's cgroup, when it has one, says which of its containers
    if (c.sandbox && cgroup !== null) {
      const member = find.byCgroup(cgroup);
      if (member && !member.sandbox && member.pod_uid !== undefined && member.pod_uid === c.pod_uid)
        return { container: member, via: 'cgroup' };
    }
    return { container: c, via: 'netns' };
  }
  if (cgroup !== null) {
    c = find.byCgroup(cgroup);
    if (c) return { container: c, via: 'cgroup' };
  }
  // A plain `ip netns` namespace at the other end of the veth (a client joined to the host) is
  // only a fallback: a container the packet is addressed to or from says more.
  let plainPeer: ContainerInfo | null = null;
  if (ev.peer) {
    c = find.byNetns(ev.peer.netns);
    if (c && c.runtime !== 'netns') return { container: c, via: 'veth-peer' };
    plainPeer = c;
  }
  // Only the host's bridge, FORWARD chain and DNAT see a container's traffic by address alone;
  // in any other namespace an address match would be a coincidence of private ranges.
  if (ev.netns === find.hostNetns) {
    for (const a of [ev.daddr, ev.saddr]) {
      if (a === null) continue;
      c = find.byAddress(a);
      if (c) return { container: c, via: 'address' };
    }
  }
  return plainPeer ? { container: plainPeer, via: 'veth-peer' } : null;
}
