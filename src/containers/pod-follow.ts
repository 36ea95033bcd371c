/**
 * `--pod` and `--k8s-namespace`: the kernel filter follows pods as they come and go. A pod
 * deleted and created again under its name (a new sandbox, a new netns, a new address) is traced
 * again as soon as the index sees it; a namespace's filter grows and shrinks with its pods.
 */
import type { ContainerEntities } from './follow.js';
import type { ContainerChange, ContainerIndex, ContainerInfo } from './index.js';
import { namespaceMembers, type PodRef, podMembers, unknownPod } from './pod-names.js';

export class PodFollower {
  private readonly up = new Map<string, boolean>();
  /** The sandbox each followed pod had when last seen: a new one is the pod created again. */
  private readonly sandboxes = new Map<string, string>();
  private readonly onChange = (_change: ContainerChange) => this.update();

  constructor(
    private readonly index: ContainerIndex,
    private readonly pods: PodRef[],
    private readonly namespaces: string[],
    private readonly apply: (entities: ContainerEntities) => void,
    private readonly log: (line: string) => void,
  ) {}

  /** Every pod must be running now (an unknown one throws ERR_DROPTRACE_POD_UNKNOWN); namespaces may be empty. */
  async start(): Promise<ContainerEntities> {
    for (const ref of this.pods) {
      if (podMembers(this.index.list(), ref).length === 0) await this.index.refresh();
      if (podMembers(this.index.list(), ref).length === 0) throw unknownPod(ref, this.index.list(), [...this.index.sourceErrors.values()]);
      this.up.set(key(ref), true);
      const sandbox = podMembers(this.index.list(), ref).find((c) => c.sandbox);
      if (sandbox) this.sandboxes.set(key(ref), sandbox.id);
    }
    for (const ns of this.namespaces) {
      const n = namespaceMembers(this.index.list(), ns).filter((c) => c.sandbox).length;
      this.up.set(`ns:${ns}`, n > 0);
      if (n === 0) this.log(`no pods in Kubernetes namespace ${ns} yet; tracing its pods as they start`);
    }
    this.index.on('change', this.onChange);
    return this.entities();
  }

  stop(): void {
    this.index.off('change', this.onChange);
  }

  private update(): void {
    const all = this.index.list();
    for (const ref of this.pods) {
      const members = podMembers(all, ref);
      const was = this.up.get(key(ref)) ?? false;
      const sandbox = members.find((c) => c.sandbox);
      const previous = this.sandboxes.get(key(ref));
      if (was && members.length === 0) this.log(`pod ${key(ref)} is gone; still following it, tracing resumes when it is back`);
      else if (!was && members.length > 0) this.log(`pod ${key(ref)} is running${sandbox ? `: netns ${sandbox.netns}` : ''}`);
      else if (sandbox && previous !== undefined && sandbox.id !== previous) {
        // deleted and created again between two looks: a new sandbox under the same name
        this.log(`pod ${key(ref)} was created again: netns ${sandbox.netns}`);
      }
      if (sandbox) this.sandboxes.set(key(ref), sandbox.id);
      this.up.set(key(ref), members.length > 0);
    }
    // always rewritten: even an unchanged inode may now belong to another namespace
    this.apply(this.entities());
  }

  entities(): ContainerEntities {
    const all = this.index.list();
    const members = new Map<string, ContainerInfo>();
    for (const ref of this.pods) for (const c of podMembers(all, ref)) members.set(c.id, c);
    for (const ns of this.namespaces) for (const c of namespaceMembers(all, ns)) members.set(c.id, c);
    const live = [...members.values()];
    return {
      // a pod on the host network owns no namespace: following it must not trace the whole host
      netns: [...new Set(live.flatMap((c) => (c.netns !== null && c.netns !== this.index.hostNetns ? [c.netns] : [])))],
      cgroups: [...new Set(live.flatMap((c) => (c.cgroupId !== null ? [c.cgroupId] : [])))],
      addresses: [...new Set(live.flatMap((c) => c.addresses))],
    };
  }
}

function key(ref: PodRef): string {
  return `${ref.namespace}/${ref.name}`;
}
