/**
 * Each decoded event, in place: the container it concerns, then for drops the layer, component,
 * hint, benign flag and the evidence that supports the hint. Per-event work is map look-ups and the
 * pure classify(); anything that needs I/O (rulesets, conntrack) is read in the background by
 * src/readers/ and used once ready.
 */
import { type ClassifyContext, classify } from './classify/index.js';
import type { Attribution } from './containers/attribution.js';
import { type ContainerInfo, toContainer } from './containers/types.js';
import type { ConnectErrorRecord, Container, DropRecord, TraceEvent } from './events.js';
import { NetnsPaths } from './kernel/netns-paths.js';
import { ConntrackEvidence } from './readers/conntrack-evidence.js';
import { ListenQueues } from './readers/listen-queues.js';
import { NetfilterRules } from './readers/netfilter-rules.js';
import { PortRanges } from './readers/port-range.js';

export interface EnrichOptions {
  /** Which container an event concerns; absent: every event's container is null. */
  attribute?: (event: TraceEvent) => Attribution | null;
  /** Read rulesets and conntrack counts for netfilter drops (runs iptables/nft in the namespace; default true). */
  netfilterEvidence?: boolean;
}

export class Enricher {
  private readonly rules = new NetfilterRules();
  private readonly conntrack = new ConntrackEvidence();
  private readonly netnsPaths = new NetnsPaths();
  private readonly portRanges = new PortRanges();
  private readonly listenQueues = new ListenQueues();
  /** One record `Container` per index entry: a storm names the same container a million times. */
  private readonly containers = new WeakMap<ContainerInfo, Container>();

  constructor(private readonly options: EnrichOptions = {}) {}

  apply(event: TraceEvent): void {
    const hit = this.options.attribute?.(event) ?? null;
    event.container = hit ? this.containerOf(hit.container) : null;
    event.container_via = hit ? hit.via : null;
    if (event.type === 'drop') this.classifyDrop(event);
    else if (event.type === 'connect_error') this.explainConnect(event);
  }

  private explainConnect(e: ConnectErrorRecord): void {
    e.port_range = this.portRanges.of(e.netns, `/proc/${e.pid}/ns/net`);
    const range = e.port_range
      ? ` (ip_local_port_range ${e.port_range[0]}-${e.port_range[1]}: ${e.port_range[1] - e.port_range[0] + 1} ports)`
      : '';
    const dst = e.family === 'ipv6' ? `[${e.daddr}]:${e.dport}` : `${e.daddr}:${e.dport}`;
    const inside = e.container && e.container_via === 'netns' ? ` in ${e.container.name}` : '';
    e.hint = `${e.comm} (pid ${e.pid})${inside} found no free local port to connect to ${dst}${range}: widen net.ipv4.ip_local_port_range, reuse connections (keep-alive, pooling) or spread them over more source addresses or destinations`;
  }

  /** A namespace went away and its inode may come back as another: forget how to enter it and what it held. */
  forget(netns: number): void {
    const path = this.netnsPaths.pathOf(netns, { rescan: false });
    this.netnsPaths.forget(netns);
    this.portRanges.forget(netns);
    if (path !== undefined) this.listenQueues.forget(path);
    if (path === undefined) return;
    this.rules.forget(path);
    this.conntrack.forget(path);
  }

  private containerOf(info: ContainerInfo): Container {
    let c = this.containers.get(info);
    if (!c) {
      c = toContainer(info);
      this.containers.set(info, c);
    }
    return c;
  }

  private classifyDrop(e: DropRecord): void {
    const context: ClassifyContext = {
      // Hints say "in <container>" of where the drop happened: only true when it was in the
      // container's own namespace (not the host's FORWARD chain for its address, nor its veth's host end).
      container: e.container_via === 'netns' ? (e.container?.name ?? null) : null,
      netfilter: null,
      conntrack: null,
    };
    if (this.options.netfilterEvidence !== false && e.reason === 'NETFILTER_DROP') {
      const path = this.netnsPaths.pathOf(e.netns);
      if (path) {
        context.netfilter = this.rules.current(path);
        context.conntrack = this.conntrack.current(path) ?? null;
      }
    }
    if (e.detected_by !== 'kfree_skb' && e.dport !== null) {
      // a SYN refused at SYN time comes with no socket: the listener's queue as `ss` sees it (a second old at most)
      const path = this.netnsPaths.pathOf(e.netns);
      const q = path ? this.listenQueues.current(path, e.dport) : undefined;
      if (q) {
        e.evidence.queue_len = q.len;
        e.evidence.queue_limit = q.limit;
      }
    }
    const c = classify(e, context);
    e.layer = c.layer;
    e.component = c.component;
    e.hint = c.hint;
    e.benign = c.benign;
    e.evidence = c.evidence;
  }
}
