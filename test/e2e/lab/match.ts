/**
 * Compares droptrace's records with a scenario's facts. Each function returns the fields that
 * disagree (empty when the record is one the scenario promised), so a failing test says why.
 */
import type { DropRecord, RetransmitRecord, TraceEvent } from '../../../src/events.js';
import type { DropFacts, Flow, RetransmitFacts } from './scenarios.js';

function flowMismatches(f: Flow, r: DropRecord | RetransmitRecord): string[] {
  const bad: string[] = [];
  if (r.proto !== f.proto) bad.push(`proto ${r.proto} != ${f.proto}`);
  if (r.family !== f.family) bad.push(`family ${r.family} != ${f.family}`);
  if (r.saddr !== f.saddr) bad.push(`saddr ${r.saddr} != ${f.saddr}`);
  if (r.daddr !== f.daddr) bad.push(`daddr ${r.daddr} != ${f.daddr}`);
  if (r.sport === null || !f.sports.includes(r.sport)) bad.push(`sport ${r.sport} not in ${f.sports}`);
  if (r.dport === null || !f.dports.includes(r.dport)) bad.push(`dport ${r.dport} not in ${f.dports}`);
  return bad;
}

export function dropMismatches(f: DropFacts, r: TraceEvent): string[] {
  if (r.type !== 'drop') return [`type ${r.type} != drop`];
  const bad = flowMismatches(f, r);
  if (r.reason !== f.reason) bad.push(`reason ${r.reason} != ${f.reason}`);
  if (r.netns !== f.netns) bad.push(`netns ${r.netns} != ${f.netns}`);
  if (r.direction !== f.direction) bad.push(`direction ${r.direction} != ${f.direction}`);
  if (!f.locations.some((l) => r.location === l || r.location.startsWith(`${l}+`))) {
    bad.push(`location ${r.location} not in ${f.locations}`);
  }
  if (f.ifindex !== null && r.ifindex !== f.ifindex) bad.push(`ifindex ${r.ifindex} != ${f.ifindex}`);
  if (f.ifname !== null && r.ifname !== f.ifname) bad.push(`ifname ${r.ifname} != ${f.ifname}`);
  if (f.peer !== null) {
    const p = r.peer;
    if (p === null) bad.push('peer missing');
    else {
      for (const k of ['ifindex', 'ifname', 'mtu', 'netns'] as const) {
        if (p[k] !== f.peer[k]) bad.push(`peer.${k} ${p[k]} != ${f.peer[k]}`);
      }
    }
  }
  return bad;
}

export function retransmitMismatches(f: RetransmitFacts, r: TraceEvent): string[] {
  if (r.type !== 'retransmit') return [`type ${r.type} != retransmit`];
  const bad = flowMismatches(f, r);
  if (r.netns !== f.netns) bad.push(`netns ${r.netns} != ${f.netns}`);
  if (r.kind !== f.kind) bad.push(`kind ${r.kind} != ${f.kind}`);
  return bad;
}

/** The records that match the facts exactly. */
export function matching(f: DropFacts | RetransmitFacts, records: TraceEvent[]): TraceEvent[] {
  return records.filter((r) => (f.type === 'drop' ? dropMismatches(f, r) : retransmitMismatches(f, r)).length === 0);
}
