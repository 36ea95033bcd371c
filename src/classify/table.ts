/**
 * The one classification table: kernel drop-reason NAME (without SKB_DROP_REASON_) → stack layer,
 * component, benign flag and hint template. Keyed by name because reason numbers move between
 * kernels (NOT_SPECIFIED is 1 on 6.1, 2 on 6.12 and 6.18).
 *
 * Templates: `{name}` is a value from the event (see PLACEHOLDERS in classify.ts); `[ … ]` is an
 * optional part, left out when any placeholder inside it has no value. A hint without `{container}`
 * gets `[ in {container}]` appended when compiled.
 *
 * A component starting with `$` is taken from the event (`$proto`: tcp/udp/…, `$qdisc`: the root
 * qdisc kind such as tbf).
 */
import type { Layer } from '../events.js';

/** A named test on the event facts; the first variant whose test holds gives the hint. */
export type HintCondition =
  | 'over_peer_mtu' // len > peer MTU (veth: the other end is smaller)
  | 'over_mtu' // len > own device MTU
  | 'has_peer' // the device has a peer (veth)
  | 'has_rule' // exactly one drop rule counted between the reads before and after the drop
  | 'rule_candidates' // several did: it was one of them
  | 'conntrack_full' // conntrack count reached its max
  | 'rules_skipped' // no ruleset read names the drop: drops came faster than the reads
  | 'rules_unread' // the ruleset read after the drop has not finished (or failed)
  | 'multicast_dst' // sent to a multicast group (224.0.0.0/4, ff00::/8)
  | 'syn_queue_full' // a SYN refused because the SYN queue was full (TCPReqQFullDrop; cookies off)
  | 'syn_listen_drop' // a SYN refused for another reason (only ListenDrops rose)
  | 'neigh_table_full' // the neighbour table held gc_thresh3 entries when creation failed
  | 'accept_queue_full'; // the socket is a listener whose accept queue is over its limit (sk_acceptq_is_full)

/** Which Evidence fields a row fills (see Evidence in src/events.ts). */
export type EvidenceKind = 'len' | 'mtu' | 'peer_mtu' | 'accept_queue' | 'rcvbuf' | 'qdisc' | 'rule' | 'conntrack' | 'neigh';

export interface HintVariant {
  when?: HintCondition;
  hint: string;
  component?: string;
  benign?: boolean;
}

export interface ReasonRow {
  layer: Layer;
  component: string;
  benign?: boolean;
  /** Hint when no variant applies (or the only hint). */
  hint: string;
  /** Tried in order before `hint`. */
  variants?: HintVariant[];
  evidence?: EvidenceKind[];
  /** The reason says little by itself: classify by the location's function (LOCATIONS). */
  byLocation?: boolean;
  /** Finer classification for this reason at a given location function. */
  at?: Record<string, Partial<Omit<ReasonRow, 'at' | 'byLocation'>>>;
}

const tcp = (hint: string, benign = false): ReasonRow => ({ layer: 'transport', component: 'tcp', hint, benign });
const tcpAuth = (hint: string): ReasonRow => ({ layer: 'transport', component: 'tcp-auth', hint });
const ipRow = (component: string, hint: string, benign = false): ReasonRow => ({
  layer: 'ip',
  component,
  hint,
  benign,
});
const link = (component: string, hint: string, benign = false): ReasonRow => ({
  layer: 'link',
  component,
  hint,
  benign,
});
const qdisc = (component: string, hint: string): ReasonRow => ({
  layer: 'qdisc',
  component,
  hint,
  evidence: ['qdisc'],
});
const tunnel = (component: string, hint: string): ReasonRow => ({ layer: 'tunnel', component, hint });

const MTU_VARIANTS: HintVariant[] = [
  { when: 'over_peer_mtu', hint: 'segment of {len} bytes exceeds MTU {peer_mtu} of {peer_ifname} (peer of {ifname})' },
  { when: 'over_mtu', hint: 'segment of {len} bytes exceeds MTU {mtu} of {ifname}' },
];

/**
 * Every reason of Linux 6.1 … 6.18 (test/fixtures/reasons), plus the two non-drop values.
 *
 * `benign: true` only where a normal, healthy host makes the drop all the time, and the comment
 * beside it says why; anything that can be a cause of lost traffic is not benign, however common.
 */
export const REASONS: Readonly<Record<string, ReasonRow>> = {
  // not drops: kfree_skb does not report them on current kernels, but older ones and other tools may
  NOT_DROPPED_YET: { layer: 'unknown', component: 'consumed', benign: true, hint: 'not a drop' },
  SKB_NOT_DROPPED_YET: { layer: 'unknown', component: 'consumed', benign: true, hint: 'not a drop' },
  CONSUMED: { layer: 'unknown', component: 'consumed', benign: true, hint: 'packet consumed normally, not a drop' },
  SKB_CONSUMED: { layer: 'unknown', component: 'consumed', benign: true, hint: 'packet consumed normally, not a drop' },

  NOT_SPECIFIED: {
    // wherever it happens, a multicast packet nobody joined (IGMP, MLD, DAD after an MTU or
    // address change) is dropped without a reason: normal operation
    variants: [{ when: 'multicast_dst', benign: true, hint: 'multicast to {daddr} not joined here (normal)' }],
    layer: 'unknown',
    component: 'unspecified',
    hint: 'dropped without a reason[ at {func}]',
    byLocation: true,
  },
  NO_SOCKET: {
    layer: 'transport',
    component: '$proto',
    hint: 'no socket listening on[ {proto}] :{lport} (closed port)',
    // The ACK that completes a handshake answered with a SYN cookie: cookie_v4_check/cookie_v6_check
    // (net/ipv4/syncookies.c, net/ipv6/syncookies.c) free it as NO_SOCKET when the child socket cannot
    // be made, which with the accept queue full is tcp_v4_syn_recv_sock's ListenOverflows path. The
    // socket on these drops is the listener (rx_sk): there is a listener, the port is not closed.
    at: {
      cookie_v4_check: {
        layer: 'socket',
        component: 'syncookie',
        hint: 'SYN-cookie ACK to :{lport} could not become a connection (memory or route)[ (accept queue {queue_len}/{queue_limit})]',
        variants: [
          {
            when: 'accept_queue_full',
            component: 'accept-queue',
            hint: 'accept queue of :{lport} full ({queue_len}/{queue_limit}): the handshake completed with a SYN cookie and was dropped; the application does not accept fast enough or its listen backlog is too small (raise it, e.g. nginx `listen … backlog=`, and net.core.somaxconn)',
          },
        ],
        evidence: ['accept_queue'],
      },
      cookie_v6_check: {
        layer: 'socket',
        component: 'syncookie',
        hint: 'SYN-cookie ACK to :{lport} could not become a connection (memory or route)[ (accept queue {queue_len}/{queue_limit})]',
        variants: [
          {
            when: 'accept_queue_full',
            component: 'accept-queue',
            hint: 'accept queue of :{lport} full ({queue_len}/{queue_limit}): the handshake completed with a SYN cookie and was dropped; the application does not accept fast enough or its listen backlog is too small (raise it, e.g. nginx `listen … backlog=`, and net.core.somaxconn)',
          },
        ],
        evidence: ['accept_queue'],
      },
    },
  },
  // an application closing a socket before reading all it was sent: every HTTP keep-alive close can
  SOCKET_CLOSE: { layer: 'socket', component: 'close', benign: true, hint: 'socket closed with data queued' },
  SOCKET_FILTER: {
    layer: 'socket',
    component: 'socket-filter',
    hint: 'rejected by a socket filter (SO_ATTACH_FILTER)',
  },
  SOCKET_RCVBUFF: {
    layer: 'socket',
    component: 'receive-buffer',
    hint: 'receive buffer of[ {proto}] :{lport} full[ ({rcvbuf_used}/{rcvbuf_size} bytes)]',
    evidence: ['rcvbuf'],
  },
  // unix sockets: a peer going away with messages queued, and skipped OOB bytes, are ordinary IPC
  UNIX_DISCONNECT: {
    layer: 'socket',
    component: 'unix',
    benign: true,
    hint: 'unix socket disconnected with data queued',
  },
  UNIX_SKIP_OOB: { layer: 'socket', component: 'unix', benign: true, hint: 'unix socket skipped out-of-band data' },
  PKT_TOO_SMALL: ipRow('header', 'packet of {len} bytes shorter than its headers'),
  TCP_CSUM: tcp('bad TCP checksum'),
  UDP_CSUM: { layer: 'transport', component: 'udp', hint: 'bad UDP checksum' },
  NETFILTER_DROP: {
    layer: 'netfilter',
    component: 'netfilter',
    hint: 'dropped by netfilter (no rule counter rose: a chain policy, a rule without counter, or conntrack)',
    variants: [
      {
        when: 'has_rule',
        component: '$rule_source',
        hint: "dropped by {rule_source} rule `{rule}`[ in {container}'s namespace]",
      },
      {
        // several drop rules counted between the reads before and after the drop: any of them
        when: 'rule_candidates',
        component: '$rule_source',
        hint: "dropped by one of {rule_count}[ {rules_source}] rules: {rules}[ in {container}'s namespace]",
      },
      {
        when: 'conntrack_full',
        component: 'conntrack',
        hint: 'conntrack table full ({conntrack_count}/{conntrack_max})',
      },
      { when: 'rules_skipped', hint: 'dropped by netfilter (rule not named: drops came faster than the ruleset could be read)' },
      { when: 'rules_unread', hint: 'dropped by netfilter (reading the ruleset to name the rule)' },
    ],
    evidence: ['rule', 'conntrack'],
    at: {
      nft_do_chain: { component: 'nftables', hint: 'dropped by an nftables/iptables-nft rule (no rule counter rose)' },
      nf_hook_slow: { hint: 'dropped by netfilter (iptables-legacy, conntrack or a chain policy)' },
    },
  },
  // frames for other hosts reach every bridge port and promiscuous device: no traffic of ours is lost
  OTHERHOST: ipRow('otherhost', 'not addressed to this host (flooded or promiscuous L2 traffic)', true),
  IP_CSUM: ipRow('header', 'bad IP header checksum'),
  IP_INHDR: ipRow('header', 'invalid IP header'),
  IP_RPFILTER: ipRow('rp_filter', 'reverse-path filter: no route back to[ {saddr}] via {ifname}'),
  UNICAST_IN_L2_MULTICAST: ipRow('l2-multicast', 'unicast IP packet in an L2 multicast/broadcast frame'),
  XFRM_POLICY: { layer: 'xfrm', component: 'policy', hint: 'rejected by an IPsec (xfrm) policy' },
  IP_NOPROTO: ipRow('protocol', 'no handler for IP protocol[ {proto}]'),
  PROTO_MEM: { layer: 'socket', component: 'memory', hint: 'protocol memory limit reached (tcp_mem/udp_mem)' },
  TCP_AUTH_HDR: tcpAuth('TCP-MD5/AO option malformed or both present'),
  TCP_MD5NOTFOUND: tcpAuth('TCP-MD5 signature expected but missing'),
  TCP_MD5UNEXPECTED: tcpAuth('TCP-MD5 signature present but not expected'),
  TCP_MD5FAILURE: tcpAuth('TCP-MD5 signature wrong'),
  TCP_AONOTFOUND: tcpAuth('TCP-AO signature expected but missing'),
  TCP_AOUNEXPECTED: tcpAuth('TCP-AO signature present but not expected'),
  TCP_AOKEYNOTFOUND: tcpAuth('TCP-AO key not found'),
  TCP_AOFAILURE: tcpAuth('TCP-AO signature wrong'),
  SOCKET_BACKLOG: {
    layer: 'socket',
    component: 'backlog',
    hint: 'socket backlog of[ {proto}] :{lport} full while the application held the socket[ ({rcvbuf_used}/{rcvbuf_size} bytes)]',
    evidence: ['rcvbuf'],
  },
  TCP_FLAGS: tcp('invalid TCP flags for the connection state[ {sk_state}]'),
  // a close with data still arriving (HTTP clients closing early): the application chose to stop
  TCP_ABORT_ON_DATA: tcp('data arrived after the application closed the socket: connection aborted', true),
  TCP_ZEROWINDOW: {
    layer: 'transport',
    component: 'tcp',
    hint: 'receive window of :{lport} is zero: the application is not reading[ ({rcvbuf_used}/{rcvbuf_size} bytes)]',
    evidence: ['rcvbuf'],
  },
  // duplicates of data already here (spurious retransmits, OFO copies): nothing new is lost
  TCP_OLD_DATA: tcp('retransmitted data already received', true),
  TCP_OVERWINDOW: tcp('data beyond the receive window'),
  TCP_OFOMERGE: tcp('out-of-order data already queued', true),
  // PAWS on a connection (tcp_validate_incoming, TcpExtPAWSEstab): a stale duplicate is harmless, but
  // the same reject is how segments and SYNs of clients behind one NAT address with unrelated
  // timestamp clocks are lost: a cause of lost traffic, so shown.
  TCP_RFC7323_PAWS: tcp(
    'PAWS: segment to :{lport} rejected for an old timestamp (a stale duplicate, or clients behind one NAT address with different timestamp clocks)',
  ),
  // pure ACKs overtaking each other on different transmit queues are dropped this way on healthy hosts
  // (the reason was split from TCP_RFC7323_PAWS for exactly that noise); no data is lost
  TCP_RFC7323_PAWS_ACK: tcp('PAWS: old timestamp on a pure ACK (ACKs reordered in transit; no data lost)', true),
  // TIME_WAIT rejects a new SYN whose timestamp is older than the last connection's (TcpExtPAWSTimewait):
  // clients behind NAT reusing the port pair lose that SYN
  TCP_RFC7323_TW_PAWS: tcp(
    'PAWS on a TIME_WAIT socket: a segment or new SYN for :{lport} with an older timestamp rejected (typical of clients behind one NAT address)',
  ),
  TCP_RFC7323_TSECR: tcp('invalid timestamp echo reply (TSecr)'),
  TCP_LISTEN_OVERFLOW: {
    layer: 'socket',
    component: 'accept-queue',
    hint: 'accept queue of :{lport} full[ ({queue_len}/{queue_limit})]: the application does not accept fast enough or its listen backlog is too small (raise it, e.g. nginx `listen … backlog=`, and net.core.somaxconn)',
    evidence: ['accept_queue'],
    // SYNs the listener refused: freed as consumed in tcp_rcv_state_process, seen through the
    // namespace's counters (detected_by); the client retransmits the SYN after 1 s, 3 s, …
    at: {
      tcp_rcv_state_process: {
        hint: 'SYN to :{lport} dropped: accept queue full[ ({queue_len}/{queue_limit})], the client retries in 1 s, 3 s, …; the application does not accept fast enough or its listen backlog is too small (raise it, e.g. nginx `listen … backlog=`, and net.core.somaxconn)',
        variants: [
          {
            when: 'syn_queue_full',
            component: 'syn-queue',
            hint: 'SYN to :{lport} dropped: SYN queue full and SYN cookies off (net.ipv4.tcp_syncookies); raise the listen backlog and net.ipv4.tcp_max_syn_backlog, or turn cookies on',
          },
          {
            when: 'syn_listen_drop',
            component: 'listener',
            hint: 'SYN to :{lport} refused by the listener (ListenDrops rose: memory, route or a security hook)',
          },
        ],
      },
    },
  },
  // an old duplicate, below the window: the data is already here
  TCP_OLD_SEQUENCE: tcp('segment entirely before the receive window (old duplicate)', true),
  TCP_INVALID_SEQUENCE: tcp('sequence number outside the receive window'),
  TCP_INVALID_END_SEQUENCE: tcp('segment end outside the receive window'),
  TCP_INVALID_ACK_SEQUENCE: tcp('ACK number outside the valid range'),
  // the RST itself, freed after it did its work: a reset is the peer's decision, seen in its own drops
  TCP_RESET: tcp('RST received: connection reset by peer', true),
  // follow-on segments of connections being torn down (answered by a challenge ACK or ignored)
  TCP_INVALID_SYN: tcp('SYN on an established or closing connection', true),
  TCP_CLOSE: tcp('segment for a closed connection', true),
  // Fast Open data refused is sent again after the ordinary handshake
  TCP_FASTOPEN: tcp('TCP Fast Open data not accepted', true),
  // ACKs reordered in transit: a newer one already arrived
  TCP_OLD_ACK: tcp('ACK older than the last one seen', true),
  TCP_TOO_OLD_ACK: tcp('ACK far older than the send window', true),
  TCP_ACK_UNSENT_DATA: tcp('ACK for data never sent'),
  TCP_OFO_QUEUE_PRUNE: {
    layer: 'socket',
    component: 'receive-buffer',
    hint: 'out-of-order queue pruned under receive-memory pressure[ ({rcvbuf_used}/{rcvbuf_size} bytes)]',
    evidence: ['rcvbuf'],
  },
  TCP_OFO_DROP: tcp('out-of-order segment dropped (no room in the receive window or memory)'),
  IP_OUTNOROUTES: ipRow('routing', 'no route to[ {daddr}] on output'),
  BPF_CGROUP_EGRESS: { layer: 'bpf', component: 'cgroup-egress', hint: 'dropped by a cgroup BPF egress program' },
  IPV6DISABLED: {
    ...ipRow('ipv6', 'IPv6 disabled on[ {ifname}]'),
    // router and neighbour solicitations, MLD reports from the other end of a container's veth reach
    // every container whose IPv6 is off: normal; unicast IPv6 sent to it is not
    variants: [{ when: 'multicast_dst', benign: true, hint: 'IPv6 multicast to {daddr} on[ {ifname}], where IPv6 is disabled (normal)' }],
  },
  NEIGH_CREATEFAIL: {
    ...ipRow('neigh', 'could not create a neighbour entry[ for {daddr}][ ({neigh_entries} entries in the table)]'),
    // neigh_alloc() refuses at gc_thresh3 entries when forced GC frees none (net/core/neighbour.c);
    // the limit is one per table for the whole host (only the initial namespace has the sysctl)
    variants: [
      {
        when: 'neigh_table_full',
        hint: 'neighbour table {neigh_table} full ({neigh_entries}/{gc_thresh3} entries): no entry[ for {daddr}]; raise {neigh_sysctl} (host-wide) or find what fills the table',
      },
    ],
    evidence: ['neigh'],
  },
  NEIGH_FAILED: ipRow('neigh', 'neighbour unreachable: ARP/ND resolution failed[ for {daddr}]'),
  NEIGH_QUEUEFULL: ipRow('neigh', 'queue of packets awaiting ARP/ND resolution full'),
  NEIGH_DEAD: ipRow('neigh', 'neighbour entry dead'),
  NEIGH_HH_FILLFAIL: ipRow('neigh', 'could not fill the cached hardware header'),
  TC_EGRESS: { layer: 'qdisc', component: 'tc-egress', hint: 'dropped by a tc egress filter or action[ on {ifname}]' },
  SECURITY_HOOK: { layer: 'socket', component: 'lsm', hint: 'dropped by a security module (LSM) hook' },
  QDISC_DROP: {
    ...qdisc('$qdisc', '[{qdisc} ]qdisc on {ifname} over its limit[ (qlen {qdisc_qlen})]'),
  },
  QDISC_OVERLIMIT: qdisc('$qdisc', '[{qdisc} ]qdisc on {ifname} over its limit[ (qlen {qdisc_qlen})]'),
  QDISC_CONGESTED: qdisc('$qdisc', '[{qdisc} ]qdisc on {ifname} dropped for congestion (AQM)[ (qlen {qdisc_qlen})]'),
  CAKE_FLOOD: qdisc('cake', 'cake qdisc on {ifname} dropped a flooding flow'),
  FQ_BAND_LIMIT: qdisc('fq', 'fq qdisc on {ifname}: band limit reached'),
  FQ_HORIZON_LIMIT: qdisc('fq', 'fq qdisc on {ifname}: timestamp beyond the horizon'),
  FQ_FLOW_LIMIT: qdisc('fq', 'fq qdisc on {ifname}: per-flow limit reached'),
  DUALPI2_STEP_DROP: qdisc('dualpi2', 'dualpi2 qdisc on {ifname}: step threshold drop'),
  CPU_BACKLOG: link('cpu-backlog', 'per-CPU input backlog full (net.core.netdev_max_backlog)'),
  XDP: { layer: 'bpf', component: 'xdp', hint: 'dropped by an XDP program[ on {ifname}]' },
  TC_INGRESS: {
    layer: 'qdisc',
    component: 'tc-ingress',
    hint: 'dropped by a tc ingress filter or action[ on {ifname}]',
  },
  // LLDP, STP and other ethertypes nobody on this host listens for
  UNHANDLED_PROTO: link('protocol', 'no handler for this link-layer protocol (nobody listens for it)', true),
  SKB_CSUM: link('checksum', 'checksum computation failed'),
  SKB_GSO_SEG: link('gso', 'GSO segmentation failed'),
  SKB_UCOPY_FAULT: { layer: 'socket', component: 'copy', hint: 'copy from user space failed' },
  DEV_HDR: link('device', 'invalid device header'),
  DEV_READY: link('device', 'device[ {ifname}] not up or not ready'),
  FULL_RING: link('tun', 'ring of[ {ifname}] full'),
  NOMEM: link('memory', 'out of memory while handling the packet[ at {func}]'),
  HDR_TRUNC: link('device', 'truncated header'),
  TAP_FILTER: link('tap', 'rejected by the tap filter of[ {ifname}]'),
  TAP_TXFILTER: link('tap', 'rejected by the tap transmit filter of[ {ifname}]'),
  ICMP_CSUM: ipRow('icmp', 'bad ICMP checksum'),
  INVALID_PROTO: ipRow('header', 'invalid or unsupported protocol'),
  IP_INADDRERRORS: ipRow('routing', 'invalid destination address[ {daddr}] (forwarding off or not local)'),
  IP_INNOROUTES: ipRow('routing', 'no route to[ {daddr}] for a packet received on {ifname}'),
  IP_LOCAL_SOURCE: ipRow('martian', 'source address[ {saddr}] is local'),
  IP_INVALID_SOURCE: ipRow('martian', 'invalid source address[ {saddr}]'),
  IP_LOCALNET: ipRow('martian', 'source or destination in 127.0.0.0/8 on[ {ifname}] (route_localnet off)'),
  IP_INVALID_DEST: ipRow('martian', 'invalid destination address[ {daddr}]'),
  PKT_TOO_BIG: {
    layer: 'ip',
    component: 'mtu',
    hint: 'packet of {len} bytes too big for the path[ (MTU {mtu} of {ifname})] and not fragmentable',
    evidence: ['len', 'mtu'],
  },
  DUP_FRAG: ipRow('fragment', 'duplicate IP fragment'),
  FRAG_REASM_TIMEOUT: ipRow('fragment', 'IP fragment reassembly timed out (fragments lost)'),
  FRAG_TOO_FAR: ipRow('fragment', 'IP fragment too far out of order (ipfrag_max_dist)'),
  TCP_MINTTL: tcp('TTL below the socket minimum (IP_MINTTL)'),
  IPV6_BAD_EXTHDR: ipRow('ipv6', 'bad IPv6 extension header'),
  IPV6_NDISC_FRAG: ipRow('ndisc', 'fragmented neighbour discovery message'),
  IPV6_NDISC_HOP_LIMIT: ipRow('ndisc', 'neighbour discovery message with hop limit not 255'),
  IPV6_NDISC_BAD_CODE: ipRow('ndisc', 'neighbour discovery message with a bad code'),
  IPV6_NDISC_BAD_OPTIONS: ipRow('ndisc', 'neighbour discovery message with bad options'),
  // solicitations for other hosts' addresses are multicast to every host on the link
  IPV6_NDISC_NS_OTHERHOST: ipRow('ndisc', 'neighbour solicitation for another host', true),
  // queues freed when a socket closes (every TCP close, every netlink command)
  QUEUE_PURGE: { layer: 'socket', component: 'purge', benign: true, hint: 'queue purged on close' },
  TC_COOKIE_ERROR: { layer: 'qdisc', component: 'tc', hint: 'tc action cookie error' },
  PACKET_SOCK_ERROR: { layer: 'socket', component: 'packet', hint: 'packet socket error' },
  TC_CHAIN_NOTFOUND: { layer: 'qdisc', component: 'tc', hint: 'tc goto chain not found' },
  TC_RECLASSIFY_LOOP: { layer: 'qdisc', component: 'tc', hint: 'tc reclassify loop' },
  VXLAN_INVALID_HDR: tunnel('vxlan', 'invalid VXLAN header'),
  VXLAN_VNI_NOT_FOUND: tunnel('vxlan', 'VXLAN VNI not configured'),
  MAC_INVALID_SOURCE: link('mac', 'invalid source MAC address'),
  VXLAN_ENTRY_EXISTS: tunnel('vxlan', 'VXLAN FDB entry exists for another remote'),
  NO_TX_TARGET: tunnel('vxlan', 'no transmit target (no remote in the FDB)'),
  IP_TUNNEL_ECN: tunnel('ip-tunnel', 'ECN decapsulation error'),
  TUNNEL_TXINFO: tunnel('tunnel', 'no tunnel metadata to transmit with'),
  LOCAL_MAC: link('mac', 'source MAC address is local (looped frame)'),
  ARP_PVLAN_DISABLE: ipRow('arp', 'ARP proxy for private VLAN disabled'),
  // pause frames and other 802.3 control frames are for the NIC, not the stack
  MAC_IEEE_MAC_CONTROL: link('mac', 'IEEE 802.3 MAC control frame', true),
  BRIDGE_INGRESS_STP_STATE: link('bridge', 'bridge port[ {ifname}] not forwarding (STP state)'),
  CAN_RX_INVALID_FRAME: link('can', 'invalid CAN frame'),
  CANFD_RX_INVALID_FRAME: link('can', 'invalid CAN FD frame'),
  CANXL_RX_INVALID_FRAME: link('can', 'invalid CAN XL frame'),
  PFMEMALLOC: {
    layer: 'socket',
    component: 'memory',
    hint: 'emergency-reserve packet for a socket not allowed to use it',
  },
  PSP_INPUT: { layer: 'xfrm', component: 'psp', hint: 'PSP encryption policy rejected the received packet' },
  PSP_OUTPUT: { layer: 'xfrm', component: 'psp', hint: 'PSP encryption policy rejected the sent packet' },
  RECURSION_LIMIT: link('recursion', 'device transmit recursion limit reached (look for a tunnel or device loop)'),
};

/**
 * Location functions for reasons marked byLocation (NOT_SPECIFIED): exact names first
 * (the drop sites seen on real kernels, see test/e2e/lab/scenarios.ts), then LOCATION_PREFIXES.
 */
export const LOCATIONS: Readonly<Record<string, ReasonRow>> = {
  __dev_forward_skb2: {
    layer: 'link',
    component: 'veth',
    hint: '{ifname} could not forward to its peer[ {peer_ifname}] (peer down, or too big for it)',
    variants: MTU_VARIANTS,
    evidence: ['len', 'mtu', 'peer_mtu'],
  },
  __dev_forward_skb: {
    layer: 'link',
    component: 'veth',
    hint: '{ifname} could not forward to its peer[ {peer_ifname}] (peer down, or too big for it)',
    variants: MTU_VARIANTS,
    evidence: ['len', 'mtu', 'peer_mtu'],
  },
  veth_xmit: {
    layer: 'link',
    component: 'veth',
    hint: 'veth {ifname} could not deliver to its peer[ {peer_ifname}] (peer down or its queue full)',
    variants: MTU_VARIANTS,
    evidence: ['len', 'mtu', 'peer_mtu'],
  },
  nf_hook_slow: { layer: 'netfilter', component: 'netfilter', hint: 'dropped in a netfilter hook' },
  nft_do_chain: { layer: 'netfilter', component: 'nftables', hint: 'dropped by an nftables/iptables-nft rule' },
  // multicast for groups nobody here joined (MLD, other hosts' ND): every IPv6 link carries it
  ip6_mc_input: { layer: 'ip', component: 'multicast', benign: true, hint: 'IPv6 multicast for a group not joined' },
  // queues freed on close
  sk_stream_kill_queues: { layer: 'socket', component: 'purge', benign: true, hint: 'queue purged on close' },
  // kernels before skb_queue_purge_reason() (6.1, and 5.10 where nothing has a reason) free a
  // closing socket's queue as NOT_SPECIFIED at skb_queue_purge, once per netlink socket closed
  // 6.1 and 6.12 free a failed unix connect()'s internal skb with kfree_skb (a connect to a missing
  // socket, glibc's probe of the nscd socket): the caller got an error, no data was lost
  unix_stream_connect: {
    layer: 'socket',
    component: 'unix',
    benign: true,
    hint: 'connect() to a unix socket that is missing or not listening (the caller got an error; no data lost)',
  },
  // 6.1 frees an nftables batch's clone with kfree_skb() in nfnetlink_rcv_batch
  // (net/netfilter/nfnetlink.c), seen once per iptables-nft change in a 6.1 guest; 6.18 does not
  nfnetlink_rcv_batch: {
    layer: 'netfilter',
    component: 'nfnetlink',
    benign: true,
    hint: 'an nftables batch was processed (its copy freed: not a drop)',
  },
  // a UDP socket closed with datagrams unread (udp_destruct_common() frees its receive queue)
  udp_destruct_common: { layer: 'socket', component: 'purge', benign: true, hint: 'UDP socket closed with datagrams unread' },
  skb_queue_purge: { layer: 'socket', component: 'purge', benign: true, hint: 'queue purged on close' },
  skb_queue_purge_reason: { layer: 'socket', component: 'purge', benign: true, hint: 'queue purged on close' },
  __skb_queue_purge_reason: { layer: 'socket', component: 'purge', benign: true, hint: 'queue purged on close' },
  // vsock probes from the hypervisor to ports nobody listens on, about once a minute in guests
  virtio_transport_recv_pkt: {
    layer: 'socket',
    component: 'vsock',
    benign: true,
    hint: 'vsock packet without a listener',
  },
  __dev_queue_xmit: {
    layer: 'qdisc',
    component: '$qdisc',
    hint: 'dropped on transmit through[ {qdisc}] qdisc of {ifname}[ (qlen {qdisc_qlen})]',
    evidence: ['qdisc'],
  },
  tcp_v4_rcv: { layer: 'transport', component: 'tcp', hint: 'TCP receive dropped the segment[ for :{lport}]' },
  tcp_v6_rcv: { layer: 'transport', component: 'tcp', hint: 'TCP receive dropped the segment[ for :{lport}]' },
  __udp4_lib_rcv: { layer: 'transport', component: 'udp', hint: 'UDP receive dropped the datagram[ for :{lport}]' },
  __udp6_lib_rcv: { layer: 'transport', component: 'udp', hint: 'UDP receive dropped the datagram[ for :{lport}]' },
  ip_error: { layer: 'ip', component: 'routing', hint: 'no usable route[ to {daddr}]' },
  ip6_pkt_drop: { layer: 'ip', component: 'routing', hint: 'no usable route[ to {daddr}]' },
  enqueue_to_backlog: link('cpu-backlog', 'per-CPU input backlog full (net.core.netdev_max_backlog)'),
};

/** Location function prefixes, longest match wins; tried after LOCATIONS. */
export const LOCATION_PREFIXES: ReadonlyArray<readonly [string, ReasonRow]> = [
  ['veth_', link('veth', 'dropped by veth {ifname}')],
  ['br_', link('bridge', 'dropped by the bridge[ on {ifname}]')],
  ['tun_', link('tun', 'dropped by tun/tap {ifname}')],
  ['netif_', link('device', 'dropped on receive[ on {ifname}]')],
  ['__netif_', link('device', 'dropped on receive[ on {ifname}]')],
  ['dev_', link('device', 'dropped by the device layer[ on {ifname}]')],
  ['sch_', qdisc('$qdisc', 'dropped by the[ {qdisc}] qdisc of {ifname}')],
  ['qdisc_', qdisc('$qdisc', 'dropped by the[ {qdisc}] qdisc of {ifname}')],
  ['tcf_', { layer: 'qdisc', component: 'tc', hint: 'dropped by a tc filter or action' }],
  ['nf_', { layer: 'netfilter', component: 'netfilter', hint: 'dropped in netfilter' }],
  ['nft_', { layer: 'netfilter', component: 'nftables', hint: 'dropped by nftables' }],
  ['ipt_', { layer: 'netfilter', component: 'iptables', hint: 'dropped by iptables' }],
  ['neigh_', ipRow('neigh', 'dropped in neighbour resolution')],
  ['arp_', ipRow('arp', 'dropped by ARP')],
  ['ip6_', ipRow('ip', 'dropped by IPv6')],
  ['ipv6_', ipRow('ip', 'dropped by IPv6')],
  ['ip_', ipRow('ip', 'dropped by IPv4')],
  ['icmp', ipRow('icmp', 'dropped by ICMP')],
  ['tcp_', { layer: 'transport', component: 'tcp', hint: 'dropped by TCP[ for :{lport}]' }],
  ['udp', { layer: 'transport', component: 'udp', hint: 'dropped by UDP[ for :{lport}]' }],
  ['__udp', { layer: 'transport', component: 'udp', hint: 'dropped by UDP[ for :{lport}]' }],
  ['unix_', { layer: 'socket', component: 'unix', hint: 'dropped by a unix socket' }],
  ['netlink_', { layer: 'socket', component: 'netlink', hint: 'dropped by a netlink socket' }],
  ['packet_', { layer: 'socket', component: 'packet', hint: 'dropped by a packet socket' }],
  ['sk_', { layer: 'socket', component: 'socket', hint: 'dropped by the socket layer' }],
  ['sock_', { layer: 'socket', component: 'socket', hint: 'dropped by the socket layer' }],
  ['xfrm', { layer: 'xfrm', component: 'xfrm', hint: 'dropped by IPsec (xfrm)' }],
  ['vxlan_', tunnel('vxlan', 'dropped by VXLAN')],
  ['geneve_', tunnel('geneve', 'dropped by Geneve')],
  ['ip_tunnel_', tunnel('ip-tunnel', 'dropped by an IP tunnel')],
  ['ipgre_', tunnel('gre', 'dropped by GRE')],
  ['gre_', tunnel('gre', 'dropped by GRE')],
  ['wg_', tunnel('wireguard', 'dropped by WireGuard')],
  ['bpf_', { layer: 'bpf', component: 'bpf', hint: 'dropped by a BPF program' }],
  ['xdp_', { layer: 'bpf', component: 'xdp', hint: 'dropped by XDP' }],
];

/**
 * Reasons this table does not know (a newer kernel): a prefix of the NAME decides, longest match
 * wins, and the result says `fallback: true`.
 */
export const REASON_PREFIXES: ReadonlyArray<readonly [string, ReasonRow]> = [
  ['TCP_', tcp('TCP dropped the segment ({reason})')],
  ['UDP_', { layer: 'transport', component: 'udp', hint: 'UDP dropped the datagram ({reason})' }],
  ['IPV6_NDISC', ipRow('ndisc', 'neighbour discovery dropped the packet ({reason})')],
  ['IPV6', ipRow('ipv6', 'IPv6 dropped the packet ({reason})')],
  ['IP_TUNNEL', tunnel('ip-tunnel', 'tunnel dropped the packet ({reason})')],
  ['IP_', ipRow('ip', 'IP dropped the packet ({reason})')],
  ['ICMP', ipRow('icmp', 'ICMP dropped the packet ({reason})')],
  ['NEIGH_', ipRow('neigh', 'neighbour resolution dropped the packet ({reason})')],
  ['ARP_', ipRow('arp', 'ARP dropped the packet ({reason})')],
  ['FRAG', ipRow('fragment', 'IP reassembly dropped the fragment ({reason})')],
  ['NETFILTER', { layer: 'netfilter', component: 'netfilter', hint: 'netfilter dropped the packet ({reason})' }],
  ['NF_', { layer: 'netfilter', component: 'netfilter', hint: 'netfilter dropped the packet ({reason})' }],
  ['QDISC', qdisc('$qdisc', '[{qdisc} ]qdisc on {ifname} dropped the packet ({reason})')],
  ['FQ_', qdisc('fq', 'fq qdisc on {ifname} dropped the packet ({reason})')],
  ['CAKE', qdisc('cake', 'cake qdisc on {ifname} dropped the packet ({reason})')],
  ['TC_', { layer: 'qdisc', component: 'tc', hint: 'tc dropped the packet ({reason})' }],
  ['SOCKET_', { layer: 'socket', component: 'socket', hint: 'socket dropped the packet ({reason})' }],
  ['UNIX_', { layer: 'socket', component: 'unix', hint: 'unix socket dropped the message ({reason})' }],
  ['VXLAN', tunnel('vxlan', 'VXLAN dropped the packet ({reason})')],
  ['GENEVE', tunnel('geneve', 'Geneve dropped the packet ({reason})')],
  ['GRE', tunnel('gre', 'GRE dropped the packet ({reason})')],
  ['TUNNEL', tunnel('tunnel', 'tunnel dropped the packet ({reason})')],
  ['XFRM', { layer: 'xfrm', component: 'xfrm', hint: 'IPsec dropped the packet ({reason})' }],
  ['PSP_', { layer: 'xfrm', component: 'psp', hint: 'PSP dropped the packet ({reason})' }],
  ['BPF', { layer: 'bpf', component: 'bpf', hint: 'a BPF program dropped the packet ({reason})' }],
  ['XDP', { layer: 'bpf', component: 'xdp', hint: 'XDP dropped the packet ({reason})' }],
  ['BRIDGE', link('bridge', 'the bridge dropped the frame ({reason})')],
  ['BR_', link('bridge', 'the bridge dropped the frame ({reason})')],
  ['MAC_', link('mac', 'link layer dropped the frame ({reason})')],
  ['DEV_', link('device', 'device layer dropped the packet ({reason})')],
  ['SKB_', link('skb', 'packet handling failed ({reason})')],
  ['CAN', link('can', 'CAN dropped the frame ({reason})')],
  ['TAP_', link('tap', 'tap dropped the packet ({reason})')],
  ['OVS_', link('openvswitch', 'Open vSwitch dropped the packet ({reason})')],
  ['RX_DROP_', link('mac80211', 'Wi-Fi (mac80211) dropped the frame ({reason})')],
  ['TX_DROP_', link('mac80211', 'Wi-Fi (mac80211) dropped the frame ({reason})')],
  ['MAC80211', link('mac80211', 'Wi-Fi (mac80211) dropped the frame ({reason})')],
];

/** Neither the table nor a prefix knows the reason; documented as layer `unknown`. */
export const UNKNOWN_REASON: ReasonRow = {
  layer: 'unknown',
  component: 'unknown',
  hint: "drop reason {reason} is not in droptrace's table[ (at {func})]",
};
