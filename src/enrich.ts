/**
 * Each decoded event, in place: the container it concerns (when a resolver is given), then for
 * drops the layer, component, hint, benign flag and evidence. Per-event work is table look-ups;
 * anything that needs I/O (rulesets, conntrack) is refreshed in the background and used when ready.
 */
import { type ClassifyInput, ConntrackEvidence, classify, emptyClassifyInput, NetfilterRules } from './classify/index.js';
import type { Container, ContainerVia, DropRecord, TraceEvent } from './events.js';
import { NetnsPaths } from './kernel/netns-paths.js';

export interface Attribution {
  container: Container | null;
  via: ContainerVia | null;
}

export type Attribute = (event: TraceEvent) => Attribution;

export interface EnrichOptions {
  /** Container attribution; absent: every event's container is null. */
  attribute?: Attribute;
  /** Read rulesets and conntrack counts for netfilter drops (spawns iptables/nft in the namespace). */
  netfilterEvidence?: boolean;
}

export class Enricher {
  private readonly rules = new NetfilterRules();
  private readonly conntrack = new ConntrackEvidence();
  private readonly netnsPaths = new NetnsPaths();
  private readonly input: ClassifyInput = emptyClassifyInput();

  constructor(private readonly options: EnrichOptions = {}) {}

  apply(event: TraceEvent): void {
    if (this.options.attribute) {
      const { container, via } = this.options.attribute(event);
      event.container = container;
      event.container_via = via;
    }
    if (event.type === 'drop') this.classifyDrop(event);
  }

  private classifyDrop(e: DropRecord): void {
    const ev = e.evidence;
    // null: no ruleset evidence to wait for; undefined (from current()): being read
    let netfilter: ClassifyInput['netfilter'] = null;
    let conntrack: ClassifyInput['conntrack'] = null;
    if (this.options.netfilterEvidence !== false && e.reason === 'NETFILTER_DROP') {
      const path = this.netnsPaths.pathOf(e.netns);
      if (path) {
        netfilter = this.rules.current(path);
        conntrack = this.conntrack.current(path);
      }
    }
    // one input object, refilled per event: a storm classifies hundreds of thousands a second
    const i = this.input;
    i.reason = e.reason;
    i.location = e.location;
    i.len = e.len;
    i.ifname = e.ifname;
    i.mtu = e.mtu;
    i.peer = e.peer;
    i.proto = e.proto;
    i.saddr = e.saddr;
    i.daddr = e.daddr;
    i.sport = e.sport;
    i.dport = e.dport;
    i.direction = e.direction;
    i.sk_state = e.sk_state;
    i.sk_backlog = ev.queue_len;
    i.sk_max_backlog = ev.queue_limit;
    i.sk_rmem = ev.rcvbuf_used;
    i.sk_rcvbuf = ev.rcvbuf_size;
    i.qdisc_kind = ev.qdisc;
    i.qdisc_qlen = ev.qdisc_qlen;
    i.qdisc_backlog = ev.qdisc_backlog;
    // Hints say "in <container>" of where the drop happened: only true when it was in the
    // container's own namespace (not the host's FORWARD chain for its address, nor its veth's host end).
    i.container = e.container_via === 'netns' ? (e.container?.name ?? null) : null;
    i.netfilter = netfilter;
    i.conntrack = conntrack;
    const c = classify(i);
    e.layer = c.layer;
    e.component = c.component;
    e.hint = c.hint;
    e.benign = c.benign;
    // the evidence the hint was built from, not every fact the kernel handed over
    e.evidence = c.evidence;
  }
}
