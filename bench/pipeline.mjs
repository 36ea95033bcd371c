#!/usr/bin/env node
// The user-space half of the stream, without the kernel: decode → enrich (attribution, classify) →
// NDJSON, over synthetic batches laid out by the addon's own offsets. Prints events/s per stage (median of
// PIPELINE_PASSES=5 interleaved passes), so the cost of each stage shows. Usage: node bench/pipeline.mjs [events=400000]
import { openSync, writeSync } from 'node:fs';
import { classify } from '../dist/classify/classify.js';
import { createDecoder } from '../dist/decode/decoder.js';
import { WallClock } from '../dist/decode/format.js';
import { Enricher } from '../dist/enrich.js';
import { caStateNames, reasonNames, tcpStateNames } from '../dist/kernel/btf-names.js';
import { Kallsyms } from '../dist/kernel/kallsyms.js';
import { loadAddon } from '../dist/native/addon.js';
import { ndjsonBytes } from '../dist/output/ndjson.js';

const total = Number(process.argv[2] ?? 400_000);
// written as the stream writes them (src/cli/stream.ts): ~64 KiB strings, to /dev/null, so that
// the strings are flattened and encoded as they are for a real stdout
const WRITE_CHUNK = 96;
const devNull = openSync('/dev/null', 'w');
const addon = loadAddon();
const { layout } = addon;
const reasons = reasonNames(addon);
const f = layout.event;
const batchEvents = Math.floor((256 * 1024) / layout.eventSize);

// one batch of a NETFILTER_DROP storm: UDP 10.231.0.1 → 10.231.0.2:9 on a veth, 64 source ports
const batch = Buffer.alloc(batchEvents * layout.eventSize);
const kallsyms = new Kallsyms();
for (let i = 0; i < batchEvents; i++) {
  const o = i * layout.eventSize;
  batch.writeBigUInt64LE(BigInt(1e12 + i * 1000), o + f.ts_ns[0]);
  batch.writeBigUInt64LE(0xffffffff81a00000n, o + f.location[0]);
  batch.writeUInt32LE(4026532999, o + f.netns[0]);
  batch.writeUInt32LE(reasons.code('NETFILTER_DROP'), o + f.reason[0]);
  batch.writeUInt32LE(44, o + f.len[0]);
  batch.writeUInt32LE(7, o + f.ifindex[0]);
  batch.writeUInt32LE(1500, o + f.mtu[0]);
  batch.writeUInt32LE(6, o + f.peer_ifindex[0]);
  batch.writeUInt32LE(1500, o + f.peer_mtu[0]);
  batch.writeUInt32LE(4026532998, o + f.peer_netns[0]);
  Buffer.from([10, 231, 0, 1]).copy(batch, o + f.saddr[0]);
  Buffer.from([10, 231, 0, 2]).copy(batch, o + f.daddr[0]);
  batch.writeUInt16LE(40000 + (i % 64), o + f.sport[0]);
  batch.writeUInt16LE(9, o + f.dport[0]);
  batch.writeUInt16LE(0x0800, o + f.protocol[0]);
  batch[o + f.type[0]] = layout.constants.DT_EVENT_DROP;
  batch[o + f.family[0]] = 2;
  batch[o + f.l4proto[0]] = 17;
  batch[o + f.direction[0]] = layout.constants.DT_DIR_RX;
  batch.write('dtbench-rx0', o + f.ifname[0], 'latin1');
  batch.write('dtbench-tx0', o + f.peer_ifname[0], 'latin1');
  batch.write('noqueue', o + f.qdisc[0], 'latin1');
}

const [sec, nsec] = addon.clockOffset();
const decode = createDecoder({
  layout,
  reasons,
  tcpStates: tcpStateNames(addon),
  caStates: caStateNames(addon),
  symbolize: (hi, lo) => kallsyms.symbolize(hi, lo),
  clock: new WallClock(sec, nsec),
});
// no ruleset reads here: netfilter evidence is I/O, not per-event CPU
const enricher = new Enricher({ netfilterEvidence: false, attribute: () => null });

/** One pass of `stage` over `total` events: events/s and bytes per line. */
function pass(stage) {
  const rounds = Math.ceil(total / batchEvents);
  const t0 = process.hrtime.bigint();
  let n = 0;
  let bytes = 0;
  for (let r = 0; r < rounds; r++) {
    const events = [];
    decode(batch, (e) => events.push(e));
    n += events.length;
    bytes += stage(events);
  }
  return { rate: n / (Number(process.hrtime.bigint() - t0) / 1e9), bytes: bytes / n };
}

const stages = [
  ['decode', () => 0],
  // the pure classifier on each decoded record (the unit tests check what it says, this how fast)
  [
    'decode + classify',
    (events) => {
      for (const e of events) classify(e);
      return 0;
    },
  ],
  [
    'decode + enrich',
    (events) => {
      for (const e of events) enricher.apply(e);
      return 0;
    },
  ],
  // the same lines by JSON.stringify of each record: what ndjsonBytes() replaced
  [
    '… + JSON.stringify + write',
    (events) => {
      for (const e of events) enricher.apply(e);
      let bytes = 0;
      for (let i = 0; i < events.length; i += WRITE_CHUNK) {
        let out = '';
        for (const e of events.slice(i, i + WRITE_CHUNK)) out += `${JSON.stringify(e)}\n`;
        bytes += writeSync(devNull, out);
      }
      return bytes;
    },
  ],
  [
    '… + ndjsonBytes + write',
    (events) => {
      for (const e of events) enricher.apply(e);
      let bytes = 0;
      for (let i = 0; i < events.length; i += WRITE_CHUNK) bytes += writeSync(devNull, ndjsonBytes(events.slice(i, i + WRITE_CHUNK)));
      return bytes;
    },
  ],
];

// interleaved A B C D A B C D …: a shared machine's noise falls on every stage alike; medians
const passes = Number(process.env.PIPELINE_PASSES ?? 5);
const results = stages.map(() => []);
for (let p = 0; p < passes; p++) for (const [i, [, stage]] of stages.entries()) results[i].push(pass(stage));
for (const [i, [name]] of stages.entries()) {
  const rates = results[i].map((r) => r.rate).sort((a, b) => a - b);
  const med = rates[rates.length >> 1];
  const perEvent = 1e9 / med;
  const bytes = results[i][0].bytes;
  console.log(
    `${name.padEnd(34)} ${Math.round(med).toLocaleString('en').padStart(10)} events/s  ${perEvent.toFixed(0).padStart(6)} ns/event${bytes ? `  ${Math.round(bytes)} B/line` : ''}`,
  );
}
