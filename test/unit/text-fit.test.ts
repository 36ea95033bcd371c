import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { DropRecord, RetransmitRecord } from '../../src/events.js';
import { colourWanted } from '../../src/output/colour.js';
import { layout } from '../../src/output/fit.js';
import { textLine } from '../../src/output/text.js';

const drop: DropRecord = {
  type: 'drop',
  time: '2026-12-01T23:50:20.123456789Z',
  host: 'node-1',
  reason: 'NETFILTER_DROP',
  reason_code: 6,
  reason_source: 'kernel',
  location: 'nft_do_chain+0x46f',
  direction: 'rx',
  proto: 'udp',
  family: 'ipv4',
  saddr: '10.231.77.2',
  sport: 53981,
  daddr: '10.231.77.1',
  dport: 7102,
  tcp_flags: null,
  len: 29,
  ifindex: 2,
  ifname: 'dttmw',
  mtu: 1500,
  netns: 4026532999,
  cgroup_id: null,
  peer: null,
  sk_state: null,
  container: { id: 'x', name: 'web', runtime: 'docker', image: null, pid: 1 },
  container_via: 'netns',
  layer: 'netfilter',
  component: 'iptables',
  hint: "dropped by iptables rule `-A INPUT -p udp -m udp --dport 7102 -j DROP` in web's namespace",
  benign: false,
  evidence: {},
  detected_by: 'kfree_skb',
};
const retransmit: RetransmitRecord = {
  type: 'retransmit',
  time: '2026-12-01T23:50:21.5Z',
  host: 'node-1',
  kind: 'rto',
  state: 'ESTABLISHED',
  proto: 'tcp',
  family: 'ipv6',
  saddr: 'fd00:1234:5678::1',
  sport: 45678,
  daddr: 'fd00:1234:5678::2',
  dport: 8080,
  netns: 1,
  cgroup_id: null,
  err: 0,
  ca_state: 'Loss',
  segments: 1,
  container: null,
  container_via: null,
};

describe('lines fitted to the terminal', () => {
  it.each([60, 80, 100, 120, 160, 220])('never pass %i columns, with or without colour, and align', (width) => {
    for (const e of [
      drop,
      retransmit,
      { ...drop, container: null, reason: 'TCP_LISTEN_OVERFLOW', layer: 'socket', component: 'accept-queue' } as DropRecord,
    ]) {
      const plain = textLine(e, { color: false, width });
      const coloured = textLine(e, { color: true, width });
      expect(plain.length).toBeLessThanOrEqual(width);
      expect(coloured).not.toBe(plain);
      expect(stripVTControlCharacters(coloured)).toBe(plain);
    }
    // the reason starts in the same column whatever the container name
    const at = (e: DropRecord) => textLine(e, { color: false, width }).indexOf(e.reason);
    expect(at({ ...drop, container: { ...drop.container, name: 'a-much-longer-container-name' } as DropRecord['container'] })).toBe(
      at(drop),
    );
  });

  it('shows time, container, direction, addresses, reason and layer at 80 columns, and the hint from 120', () => {
    expect(textLine(drop, { color: false, width: 80 })).toBe(
      '23:50:20 web        rx udp 10.231.77.2>:7102   NETFILTER_DROP netfilter/iptables',
    );
    const wide = textLine(drop, { color: false, width: 120 });
    expect(wide).toMatch(
      /^23:50:20 web +rx udp 10\.231\.77\.2>:7102 +NETFILTER_DROP +netfilter\/iptables +dropped by iptables rule `-A …$/,
    );
    expect(wide).toHaveLength(120);
    expect(textLine(drop, { color: false, width: 220 })).toContain("in web's namespace");
  });

  it('prints every field uncut without a width', () => {
    const line = textLine(drop, { color: false });
    expect(line).toContain('10.231.77.2:53981 > 10.231.77.1:7102');
    expect(line).toContain('nft_do_chain+0x46f');
    expect(line).toContain("in web's namespace");
  });

  it('pads the wide line by what is visible, so colour keeps the columns', () => {
    expect(stripVTControlCharacters(textLine(drop, { color: true }))).toBe(textLine(drop, { color: false }));
  });

  it('keeps the ideal widths while there is room, and shrinks columns in their order for the rest', () => {
    const cols = [
      { ideal: 20, min: 10, order: 2 },
      { ideal: 20, min: 5, order: 1 },
    ];
    expect(layout(cols, 80)).toEqual({ widths: [20, 20], rest: 38 });
    expect(layout(cols, 62)).toEqual({ widths: [20, 20], rest: 20 });
    // too narrow: the second column gives way first, and the hint is left out
    expect(layout(cols, 40)).toEqual({ widths: [20, 18], rest: 0 });
    expect(layout(cols, 20)).toEqual({ widths: [13, 5], rest: 0 });
  });
});

describe('colourWanted', () => {
  const tty = { isTTY: true, hasColors: () => true } as unknown as NodeJS.WritableStream;
  const pipe = {} as NodeJS.WritableStream;
  it.each([
    ['a terminal', tty, {}, true],
    ['a pipe', pipe, {}, false],
    ['NO_COLOR on a terminal', tty, { NO_COLOR: '1' }, false],
    ['an empty NO_COLOR', tty, { NO_COLOR: '' }, true],
    ['FORCE_COLOR on a pipe', pipe, { FORCE_COLOR: '1' }, true],
    ['FORCE_COLOR=0 on a terminal', tty, { FORCE_COLOR: '0' }, false],
    ['a terminal without colours', { isTTY: true, hasColors: () => false } as unknown as NodeJS.WritableStream, {}, false],
  ])('%s', (_what, out, env, want) => {
    expect(colourWanted(out, env)).toBe(want);
  });
});
