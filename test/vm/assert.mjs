// Checks what droptrace reported inside a test guest (test/vm/guest.sh wrote it to <dir>), by names
// only: reason numbers differ between kernels. Prints one DTVM-RESULT line per scenario and one
// DTVM-TIMES line; exits 1 when any scenario failed.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
const read = (name) => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8') : '');
const records = (name) =>
  read(name)
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
const status = (name) => (read(name).trim() === '' ? null : Number(read(name).trim()));
const marks = Object.fromEntries(
  read('marks')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' '))
    .map(([k, v]) => [k, Number(v)]),
);
const netnsA = Number(read('netns_a').trim());
const netnsB = Number(read('netns_b').trim());
const stream = records('stream.ndjson');
const start = stream.find((r) => r.type === 'start');
const stop = stream.find((r) => r.type === 'stop');
const drops = stream.filter((r) => r.type === 'drop');
const reasonless = start ? start.features?.drop_reasons === false : false;
const results = [];

function scenario(name, fn) {
  let detail = '';
  let ok = false;
  try {
    const r = fn();
    ok = r === true || (typeof r === 'string' && !r.startsWith('FAIL'));
    detail = typeof r === 'string' ? r.replace(/^FAIL:? ?/, '') : ok ? '' : 'not seen';
  } catch (e) {
    detail = `${e.message}`;
  }
  results.push({ scenario: name, ok, detail });
  console.log(`DTVM-RESULT ${JSON.stringify({ scenario: name, ok, detail })}`);
}

const brief = (d) =>
  d ? `${d.reason}@${d.location} ${d.layer}/${d.component} netns=${d.netns === netnsA ? 'a' : d.netns === netnsB ? 'b' : d.netns}` : 'none';
const find = (list, want) => list.find((d) => Object.entries(want).every(([k, v]) => (typeof v === 'function' ? v(d[k], d) : d[k] === v)));
const seen = (list, want, label) => {
  const d = find(list, want);
  if (d) return `${brief(d)}${d.reason_source === 'location' ? ' (derived)' : ''}`;
  const near = list.filter((x) => x.type === 'drop' && (x.netns === netnsA || x.netns === netnsB)).slice(-4);
  return `FAIL ${label} not reported; last lab drops: ${near.map(brief).join('; ') || 'none'}`;
};
/** A reason the kernel names, or on kernels before 5.17 one derived from the location. */
const reasonIs = (name) => (reason, d) =>
  reason === name && (reasonless ? d.reason_source === 'location' && d.reason_code === null : d.reason_source === 'kernel');

scenario('start', () => {
  if (!start) return `FAIL no start record (exit ${status('stream.status')}): ${read('stream.err').slice(-600)}`;
  const f = start.features ?? {};
  const want = reasonless ? 'tracepoint' : 'tp_btf';
  if (start.program !== want) return `FAIL program ${start.program}, expected ${want}`;
  if (f.veth_peer !== true) return 'FAIL features.veth_peer is not true';
  const notes = read('stream.err')
    .split('\n')
    .filter((l) => l.startsWith('droptrace: ') && /veth|5\.17|cgroup/.test(l));
  const vethNote = notes.filter((l) => l.includes('veth'));
  if (read('veth_at_start').trim() === 'no' && vethNote.length !== 1)
    return `FAIL expected one stderr note on veth, got ${vethNote.length}`;
  if (reasonless && notes.filter((l) => l.includes('5.17')).length !== 1) return 'FAIL expected one stderr note on drop reasons';
  return `${start.program} ${JSON.stringify(f)}`;
});

scenario('reasons', () => {
  if (status('reasons.status') !== 0) return `FAIL exit ${status('reasons.status')}: ${read('reasons.err')}`;
  const rows = JSON.parse(read('reasons.json'));
  const names = rows.map((r) => r.name);
  for (const n of ['NO_SOCKET', 'NETFILTER_DROP', 'NOT_SPECIFIED']) if (!names.includes(n)) return `FAIL ${n} missing`;
  if (reasonless) {
    if (rows.some((r) => r.code !== null)) return 'FAIL a reason with a number on a kernel without reasons';
    if (!read('reasons.err').includes('5.17')) return 'FAIL no explanation on stderr';
    return `${rows.length} derived reasons (by location)`;
  }
  return `${rows.length} reasons from BTF`;
});

scenario('idle_no_self', () => {
  // no container engine, no interfaces but lo: nothing outside the lab should be reported, and
  // droptrace's own connects to the missing engine socket (a drop on these kernels) are counted
  // apart as its own
  const foreign = drops.filter(
    (d) => d.netns !== netnsA && d.netns !== netnsB && (d.peer?.netns ?? 0) !== netnsA && (d.peer?.netns ?? 0) !== netnsB,
  );
  if (!stop) return 'FAIL no stop record';
  if (foreign.length) return `FAIL drops outside the lab (own_drops=${stop.own_drops}): ${foreign.slice(0, 3).map(brief).join('; ')}`;
  if (!(stop.own_drops > 0)) return `FAIL own_drops=${stop.own_drops}: droptrace's own engine connects were not counted apart`;
  return `own_drops=${stop.own_drops}`;
});

scenario('tcp_closed', () =>
  seen(
    drops,
    { reason: reasonIs('NO_SOCKET'), proto: 'tcp', dport: 9, netns: netnsB, layer: 'transport', component: 'tcp' },
    'NO_SOCKET tcp :9',
  ),
);

scenario('veth_late', () => {
  // veth was loaded after droptrace started: the peer is still named
  const d = find(drops, { proto: 'tcp', dport: 9, netns: netnsB });
  if (!d) return 'FAIL no drop to :9';
  if (d.peer?.ifname !== 'dtvm-va' || d.peer?.netns !== netnsA) return `FAIL peer ${JSON.stringify(d.peer)}`;
  return `${d.ifname} -> peer ${d.peer.ifname}`;
});

scenario('udp_closed', () =>
  seen(
    drops,
    { reason: reasonIs('NO_SOCKET'), proto: 'udp', dport: 7, netns: netnsB, layer: 'transport', component: 'udp' },
    'NO_SOCKET udp :7',
  ),
);

scenario('rcvbuf', () =>
  seen(
    drops,
    { reason: reasonIs('SOCKET_RCVBUFF'), proto: 'udp', dport: 5001, netns: netnsB, layer: 'socket', component: 'receive-buffer' },
    'SOCKET_RCVBUFF',
  ),
);

scenario('iptables', () =>
  seen(drops, { reason: reasonIs('NETFILTER_DROP'), proto: 'udp', dport: 5002, netns: netnsB, layer: 'netfilter' }, 'NETFILTER_DROP :5002'),
);

scenario('retransmit', () => {
  const r = stream.find((x) => x.type === 'retransmit' && x.dport === 5003 && x.netns === netnsA);
  if (!r) return 'FAIL no retransmit to :5003';
  return r.kind === 'syn' ? `kind ${r.kind} state ${r.state}` : `FAIL kind ${r.kind}`;
});

scenario('netem', () => {
  if (status('netem.status') !== 0) return `FAIL tc netem: ${read('netem.err').trim()}`;
  return seen(
    drops,
    {
      netns: netnsA,
      layer: 'qdisc',
      component: 'netem',
      evidence: (e) => e?.qdisc === 'netem',
      reason: (r) => r === 'QDISC_DROP' || reasonless,
    },
    'qdisc/netem with evidence',
  );
});

if (existsSync(join(dir, 'tp.ndjson'))) {
  scenario('tracepoint', () => {
    const tp = records('tp.ndjson');
    const s = tp.find((r) => r.type === 'start');
    if (!s) return `FAIL no start record (exit ${status('tp.status')}): ${read('tp.err').slice(-600)}`;
    if (s.program !== 'tracepoint') return `FAIL program ${s.program}`;
    const tpDrops = tp.filter((r) => r.type === 'drop');
    const a = seen(
      tpDrops,
      { reason: 'NO_SOCKET', proto: 'tcp', dport: 9, netns: netnsB, peer: (p) => p?.ifname === 'dtvm-va' },
      'NO_SOCKET with its veth peer',
    );
    if (a.startsWith('FAIL')) return a;
    return seen(tpDrops, { reason: 'NETFILTER_DROP', dport: 5002, netns: netnsB }, 'NETFILTER_DROP');
  });
} else {
  scenario('tracepoint', () => {
    // before 5.17 the stream above already ran on the classic tracepoint; tp_btf is refused by code
    if (!reasonless) return 'FAIL the tracepoint run did not happen';
    const err = read('tp_btf.err');
    if (status('tp_btf.status') !== 69 || !err.includes('ERR_DROPTRACE_KERNEL_TP_BTF'))
      return `FAIL --attach tp_btf: exit ${status('tp_btf.status')} ${err.slice(-300)}`;
    return 'auto is the classic tracepoint; --attach tp_btf: ERR_DROPTRACE_KERNEL_TP_BTF';
  });
}

scenario('check', () => {
  const rec = records('check.ndjson').find((r) => r.type === 'check');
  if (status('check.status') !== 0) {
    return `FAIL exit ${status('check.status')}: ${rec ? JSON.stringify(rec.findings.map((f) => `${f.reason}@${f.locations[0]}`)) : read('check.err').slice(-400)}`;
  }
  if (rec?.verdict !== 'ok') return `FAIL record ${JSON.stringify(rec)}`;
  return `verdict ${rec.verdict}, unexpected ${rec.unexpected}`;
});

const span = (a, b) => (marks[a] !== undefined && marks[b] !== undefined ? Math.round((marks[b] - marks[a]) * 10) / 10 : null);
console.log(
  `DTVM-TIMES ${JSON.stringify({
    stream_start_s: span('stream_exec', 'stream_started'),
    tracepoint_start_s: span('tp_exec', 'tp_started'),
    check_s: span('check_exec', 'check_end'),
    scenarios_s: span('tcp_closed', 'scenarios_end'),
  })}`,
);
process.exit(results.every((r) => r.ok) ? 0 : 1);
