/**
 * Batches of struct dt_event bytes to records. The offsets come from the addon's offsetof table of
 * bpf/droptrace.h (the one definition); test/unit/layout.test.ts checks them against the BPF
 * object's BTF and that this decoder reads every field.
 */
import type { ConnectErrorRecord, DropRecord, Evidence, RetransmitKind, RetransmitRecord, TraceEvent } from '../events.js';
import { hostName } from '../host.js';
import type { ReasonNames } from '../kernel/btf-names.js';
import { derivedReason } from '../kernel/reasonless.js';
import type { AddonLayout } from '../native/addon.js';
import { CStringField, formatIPv4, formatIPv6, L4_PROTO, TCP_FLAGS, type WallClock } from './format.js';

const AF_INET = 2;
const AF_INET6 = 10;
const ETHER_NAMES: Record<number, string> = { 2054: 'arp', 32821: 'rarp', 35020: 'lldp', 33024: 'vlan' };

/** Non-IP packets: the ethertype's name, or its number in hex. */
function etherProto(ethertype: number): string | null {
  if (ethertype === 0) return null;
  return ETHER_NAMES[ethertype] ?? `0x${ethertype.toString(16).padStart(4, '0')}`;
}

export interface DecoderContext {
  layout: AddonLayout;
  reasons: ReasonNames;
  tcpStates: string[];
  /** enum tcp_ca_state names, without TCP_CA_ */
  caStates: string[];
  symbolize(hi: number, lo: number): string;
  clock: WallClock;
}

/** The fields of struct dt_event this decoder reads: the layout test requires all of them. */
export const DECODED_FIELDS = [
  'ts_ns',
  'location',
  'cgroup_id',
  'netns',
  'reason',
  'len',
  'ifindex',
  'mtu',
  'peer_ifindex',
  'peer_mtu',
  'peer_netns',
  'rcvbuf_used',
  'rcvbuf_size',
  'queue_len',
  'queue_limit',
  'qdisc_qlen',
  'qdisc_backlog',
  'err',
  'segs',
  'neigh_entries',
  'gc_thresh3',
  'pid',
  'saddr',
  'daddr',
  'sport',
  'dport',
  'protocol',
  'type',
  'family',
  'l4proto',
  'tcp_flags',
  'direction',
  'sk_state',
  'rtx_kind',
  'ca_state',
  'detect',
  'ifname',
  'peer_ifname',
  'qdisc',
  'comm',
] as const;

export type Decoder = (batch: Buffer, emit: (event: TraceEvent) => void) => number;

/** The record's name of each enum dt_retransmit_kind value (the events' and the in-kernel counters'). */
export function retransmitKinds(c: Record<string, number>): Record<number, RetransmitKind> {
  return {
    [c.DT_RTX_RTO]: 'rto',
    [c.DT_RTX_FAST]: 'fast',
    [c.DT_RTX_TLP]: 'tlp',
    [c.DT_RTX_SYN]: 'syn',
    [c.DT_RTX_SYNACK]: 'synack',
  };
}

/** How a drop was seen, by DT_DETECT_* value (events and the in-kernel counters' keys carry it). */
export function detectionNames(c: Record<string, number>): Record<number, DropRecord['detected_by']> {
  return {
    [c.DT_DETECT_KFREE_SKB]: 'kfree_skb',
    [c.DT_DETECT_SYN_ACCEPT_QUEUE]: 'syn_accept_queue_full',
    [c.DT_DETECT_SYN_SYN_QUEUE]: 'syn_queue_full',
    [c.DT_DETECT_SYN_LISTEN_DROP]: 'syn_listen_drop',
  };
}

export function createDecoder(ctx: DecoderContext): Decoder {
  const f = ctx.layout.event;
  const c = ctx.layout.constants;
  const host = hostName();
  const size = ctx.layout.eventSize;
  for (const name of DECODED_FIELDS) {
    if (!f[name]) throw new Error(`addon layout lacks dt_event.${name}: rebuild the addon`);
  }
  const off = (name: (typeof DECODED_FIELDS)[number]) => f[name][0];
  const TS = off('ts_ns'),
    LOC = off('location'),
    CG = off('cgroup_id'),
    NETNS = off('netns');
  const REASON = off('reason'),
    LEN = off('len'),
    IFINDEX = off('ifindex'),
    MTU = off('mtu');
  const PEER_IFINDEX = off('peer_ifindex'),
    PEER_MTU = off('peer_mtu'),
    PEER_NETNS = off('peer_netns');
  const RCVBUF_USED = off('rcvbuf_used'),
    RCVBUF_SIZE = off('rcvbuf_size'),
    QUEUE_LEN = off('queue_len'),
    QUEUE_LIMIT = off('queue_limit');
  const QLEN = off('qdisc_qlen'),
    QBACKLOG = off('qdisc_backlog'),
    ERR = off('err'),
    SEGS = off('segs'),
    NEIGH_ENTRIES = off('neigh_entries'),
    GC_THRESH3 = off('gc_thresh3'),
    PID = off('pid'),
    COMM = off('comm');
  const SADDR = off('saddr'),
    DADDR = off('daddr'),
    SPORT = off('sport'),
    DPORT = off('dport');
  const TYPE = off('type'),
    FAMILY = off('family'),
    L4 = off('l4proto'),
    FLAGS = off('tcp_flags');
  const DIR = off('direction'),
    STATE = off('sk_state'),
    RTX = off('rtx_kind'),
    CA = off('ca_state'),
    DETECT = off('detect'),
    ETH = off('protocol');
  const IFNAME = off('ifname'),
    PEER_IFNAME = off('peer_ifname'),
    QDISC = off('qdisc');
  const NAME_LEN = f.ifname[1];
  const ifname = new CStringField(NAME_LEN);
  const peerIfname = new CStringField(NAME_LEN);
  const qdisc = new CStringField(NAME_LEN);
  const comm = new CStringField(f.comm[1]);

  const kinds = retransmitKinds(c);
  const detections = detectionNames(c);
  const directions: Record<number, DropRecord['direction']> = { [c.DT_DIR_RX]: 'rx', [c.DT_DIR_TX]: 'tx' };
  const listen = ctx.tcpStates.indexOf('LISTEN');
  const state = (n: number) => (n === 0 ? null : (ctx.tcpStates[n] ?? String(n)));
  const reasonless = !ctx.reasons.available;
  // the constants object has a hundred keys: read once, not per event
  const EVENT_DROP = c.DT_EVENT_DROP;
  const EVENT_CONNECT = c.DT_EVENT_CONNECT;
  const reasonName = ctx.reasons.name.bind(ctx.reasons);
  const symbolize = ctx.symbolize;
  const clock = ctx.clock;

  return (buf, emit) => {
    const n = Math.floor(buf.length / size);
    for (let i = 0; i < n; i++) {
      const o = i * size;
      const family = buf[o + FAMILY];
      let saddr: string | null = null;
      let daddr: string | null = null;
      let fam: DropRecord['family'] = null;
      if (family === AF_INET) {
        fam = 'ipv4';
        saddr = formatIPv4(buf, o + SADDR);
        daddr = formatIPv4(buf, o + DADDR);
      } else if (family === AF_INET6) {
        fam = 'ipv6';
        saddr = formatIPv6(buf, o + SADDR);
        daddr = formatIPv6(buf, o + DADDR);
      }
      const l4 = buf[o + L4];
      const hasPorts = fam !== null && (l4 === 6 || l4 === 17);
      const cgLo = buf.readUInt32LE(o + CG);
      const cgHi = buf.readUInt32LE(o + CG + 4);
      const cgroup = cgLo === 0 && cgHi === 0 ? null : cgHi === 0 ? String(cgLo) : buf.readBigUInt64LE(o + CG).toString();
      const time = clock.format(buf.readUInt32LE(o + TS + 4), buf.readUInt32LE(o + TS));
      const proto = fam !== null || l4 !== 0 ? L4_PROTO[l4] : etherProto(buf.readUInt16LE(o + ETH));
      const skState = buf[o + STATE];

      if (buf[o + TYPE] === EVENT_DROP) {
        const ifindex = buf.readUInt32LE(o + IFINDEX);
        const peerIfindex = buf.readUInt32LE(o + PEER_IFINDEX);
        // the kernel's facts that have no field of their own in the record, named as in the header;
        // classification picks the ones that support its hint
        const evidence: Evidence = {};
        const len = buf.readUInt32LE(o + LEN);
        const mtu = buf.readUInt32LE(o + MTU);
        if (skState === listen) {
          evidence.queue_len = buf.readUInt32LE(o + QUEUE_LEN);
          evidence.queue_limit = buf.readUInt32LE(o + QUEUE_LIMIT);
        } else if (buf.readUInt32LE(o + RCVBUF_SIZE)) {
          evidence.rcvbuf_used = buf.readUInt32LE(o + RCVBUF_USED);
          evidence.rcvbuf_size = buf.readUInt32LE(o + RCVBUF_SIZE);
        }
        const neighEntries = buf.readUInt32LE(o + NEIGH_ENTRIES);
        if (neighEntries) {
          evidence.neigh_entries = neighEntries;
          const limit = buf.readUInt32LE(o + GC_THRESH3);
          if (limit) evidence.gc_thresh3 = limit;
        }
        if (buf[o + QDISC]) {
          evidence.qdisc = qdisc.of(buf, o + QDISC);
          evidence.qdisc_qlen = buf.readUInt32LE(o + QLEN);
          evidence.qdisc_backlog = buf.readUInt32LE(o + QBACKLOG);
        }
        const reasonCode = buf.readUInt32LE(o + REASON);
        const location = symbolize(buf.readUInt32LE(o + LOC + 4), buf.readUInt32LE(o + LOC));
        const record: DropRecord = {
          type: 'drop',
          time,
          host,
          // before 5.17 the kernel passes no reason: derived from where the packet was freed
          reason: reasonless ? derivedReason(location, evidence.qdisc) : reasonName(reasonCode),
          reason_code: reasonless ? null : reasonCode,
          reason_source: reasonless ? 'location' : 'kernel',
          location,
          direction: directions[buf[o + DIR]] ?? 'unknown',
          proto,
          family: fam,
          saddr,
          sport: hasPorts ? buf.readUInt16LE(o + SPORT) : null,
          daddr,
          dport: hasPorts ? buf.readUInt16LE(o + DPORT) : null,
          tcp_flags: l4 === 6 && fam !== null ? TCP_FLAGS[buf[o + FLAGS]] : null,
          len,
          ifindex,
          ifname: ifindex ? ifname.of(buf, o + IFNAME) : null,
          mtu: ifindex ? mtu : null,
          netns: buf.readUInt32LE(o + NETNS),
          cgroup_id: cgroup,
          peer: peerIfindex
            ? {
                ifindex: peerIfindex,
                ifname: peerIfname.of(buf, o + PEER_IFNAME),
                mtu: buf.readUInt32LE(o + PEER_MTU),
                netns: buf.readUInt32LE(o + PEER_NETNS),
              }
            : null,
          sk_state: state(skState),
          container: null,
          container_via: null,
          layer: null,
          component: null,
          hint: null,
          benign: false,
          evidence,
          detected_by: detections[buf[o + DETECT]] ?? 'kfree_skb',
        };
        emit(record);
      } else if (buf[o + TYPE] === EVENT_CONNECT) {
        const record: ConnectErrorRecord = {
          type: 'connect_error',
          time,
          host,
          errno: 'EADDRNOTAVAIL',
          pid: buf.readUInt32LE(o + PID),
          comm: comm.of(buf, o + COMM),
          netns: buf.readUInt32LE(o + NETNS),
          cgroup_id: cgroup,
          family: fam,
          daddr,
          dport: fam ? buf.readUInt16LE(o + DPORT) : null,
          port_range: null,
          hint: '',
          container: null,
          container_via: null,
        };
        emit(record);
      } else {
        const record: RetransmitRecord = {
          type: 'retransmit',
          time,
          host,
          kind: kinds[buf[o + RTX]] ?? 'unknown',
          state: state(skState) ?? 'UNKNOWN',
          proto: 'tcp',
          family: fam,
          saddr,
          sport: fam ? buf.readUInt16LE(o + SPORT) : null,
          daddr,
          dport: fam ? buf.readUInt16LE(o + DPORT) : null,
          netns: buf.readUInt32LE(o + NETNS),
          cgroup_id: cgroup,
          err: buf.readInt32LE(o + ERR),
          segments: buf.readUInt32LE(o + SEGS),
          ca_state: ctx.caStates[buf[o + CA]] ?? String(buf[o + CA]),
          container: null,
          container_via: null,
        };
        emit(record);
      }
    }
    return n;
  };
}
