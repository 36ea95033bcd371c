import { describe, expect, it } from 'vitest';
import { describeDrop } from '../../src/classify/index.js';
import { groupCounts, renderTop, type TopCount, type TopView } from '../../src/output/top-table.js';
import type { RuleCounter } from '../../src/readers/netfilter-rules.js';
import { dropRulesLabel } from '../../src/readers/rule-labels.js';

const count = (over: Partial<TopCount>): TopCount => ({
  netns: 1,
  where: 'web',
  layer: 'netfilter/iptables',
  reason: 'NETFILTER_DROP',
  location: 'nft_do_chain+0x46f',
  benign: false,
  count: 1,
  ...over,
});

function view(rows: TopView['rows'], over: Partial<TopView> = {}): TopView {
  return {
    by: 'container',
    clock: '23:59:01',
    elapsed: 12,
    interval: 1,
    drops: 120,
    dropRate: 10,
    retransmits: 3,
    retransmitRate: 0,
    lost: 0,
    suppressed: 0,
    uncounted: 0,
    hiddenBenign: 0,
    rows,
    ...over,
  };
}

describe('top table', () => {
  it('sums counters by container × layer × reason, and by each --by', () => {
    const counts = [
      count({ count: 3 }),
      count({ count: 4, location: 'nf_hook_slow+0x1' }),
      count({ where: 'db', reason: 'NO_SOCKET', layer: 'transport/udp', count: 2 }),
      count({ where: 'db', reason: 'RETRANSMIT/rto', layer: 'transport/tcp', retransmit: 'rto', location: '-', count: 5 }),
    ];
    expect([...groupCounts(counts, 'container').values()].map((g) => [...g.cells, g.count])).toEqual([
      ['web', 'netfilter/iptables', 'NETFILTER_DROP', 7],
      ['db', 'transport/udp', 'NO_SOCKET', 2],
      ['db', 'transport/tcp', 'RETRANSMIT/rto', 5],
    ]);
    expect([...groupCounts(counts, 'layer').values()].map((g) => g.count)).toEqual([7, 2, 5]);
    expect([...groupCounts(counts, 'location').values()].map((g) => g.cells[0])).toEqual([
      'nft_do_chain+0x46f',
      'nf_hook_slow+0x1',
      'nft_do_chain+0x46f',
      '-',
    ]);
  });

  it('sorts by rate, fits the width and the height, and says how many rows did not fit', () => {
    const rows = Array.from({ length: 30 }, (_, i) => ({
      cells: [`container-with-a-long-name-${i}`, 'netfilter/iptables', 'NETFILTER_DROP'],
      count: 1000 + i,
      rate: i,
      benign: false,
    }));
    for (const [width, height] of [
      [80, 24],
      [120, 40],
      [50, 10],
    ] as const) {
      const lines = renderTop(view(rows), { width, height, colour: false });
      expect(lines.length).toBeLessThanOrEqual(height);
      for (const l of lines) expect(l.length).toBeLessThanOrEqual(width);
      expect(lines[4]).toMatch(/ 1029 +29$/); // the fastest first
      if (height < 34) expect(lines.at(-1)).toMatch(new RegExp(`^… ${30 - (height - 5)} more rows`));
      else expect(lines).toHaveLength(34);
    }
    const piped = renderTop(view(rows), { colour: false });
    expect(piped).toHaveLength(4 + 30);
    expect(piped[1]).toBe('drops 120 (10/s)  retransmits 3 (0/s)  lost 0  suppressed 0');
  });

  it('says how many benign rows are hidden', () => {
    expect(renderTop(view([], { hiddenBenign: 2 }), { colour: false })[1]).toMatch(/benign 2 hidden \(--all\)$/);
  });
});

describe('describeDrop', () => {
  it.each([
    ['NO_SOCKET', '__udp4_lib_rcv+0x4bc', 'transport', 'udp', false],
    ['NO_SOCKET', 'tcp_v4_rcv+0x91', 'transport', 'tcp', false],
    ['NETFILTER_DROP', 'nft_do_chain+0x46f', 'netfilter', 'nftables', false],
    ['QUEUE_PURGE', 'skb_queue_purge_reason+0x10', 'socket', expect.any(String), true],
  ])('%s at %s', (reason, location, layer, component, benign) => {
    expect(describeDrop(reason, location)).toEqual({ layer, component, benign });
  });
});

describe('dropRulesLabel', () => {
  const rule = (source: RuleCounter['source'], verdict: RuleCounter['verdict'], packets: number): RuleCounter => ({
    key: `${source}${verdict}${packets}`,
    source,
    family: 'ip',
    table: 'filter',
    chain: 'INPUT',
    rule: 'r',
    verdict,
    packets,
  });
  it.each([
    ['iptables-nft drop rules only', [rule('iptables', 'DROP', 0), rule('ip6tables', 'REJECT', 0)], 'iptables'],
    ['native nft only', [rule('nftables', 'DROP', 3)], 'nftables'],
    ['both, only the iptables one counted', [rule('iptables', 'DROP', 2), rule('nftables', 'DROP', 0)], 'iptables'],
    ['both counted: cannot tell', [rule('iptables', 'DROP', 2), rule('nftables', 'DROP', 1)], undefined],
    ['accept rules do not count', [rule('nftables', null, 9), rule('iptables-legacy', 'DROP', 0)], 'iptables'],
    ['no drop rules', [], undefined],
  ])('%s', (_what, rules, label) => {
    expect(dropRulesLabel(rules)).toBe(label);
  });
});
