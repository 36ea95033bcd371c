/**
 * `top`'s table: the kernel's counters grouped for people (by container × layer/component × reason
 * by default), sorted by rate, fitted to the terminal's columns and rows. Pure: data in, lines out.
 */
import type { DropRecord, RetransmitKind } from '../events.js';
import { paint } from './colour.js';
import { cell } from './fit.js';

export const TOP_BY = ['container', 'netns', 'layer', 'reason', 'location'] as const;
export type TopBy = (typeof TOP_BY)[number];

/** One counter row, named: a drop site in a namespace, or a retransmit kind in one. */
export interface TopCount {
  netns: number;
  /** The container's name, an `ip netns` name, or netns:<inode>. */
  where: string;
  /** layer/component */
  layer: string;
  /** A drop reason, or RETRANSMIT/<kind>. */
  reason: string;
  location: string;
  benign: boolean;
  retransmit?: RetransmitKind;
  /** How the drops were seen (drop rows): SYNs refused at a full queue are counted apart by queue. */
  detected_by?: DropRecord['detected_by'];
  count: number;
}

interface ColumnSpec {
  title: string;
  of: (c: TopCount) => string;
  /** Never wider than this; narrower first when the terminal is. */
  max: number;
  /** Lower gives way first. */
  order: number;
}

const WHERE: ColumnSpec = { title: 'CONTAINER', of: (c) => c.where, max: 28, order: 4 };
const NETNS: ColumnSpec = { title: 'NETNS', of: (c) => String(c.netns), max: 10, order: 4 };
const LAYER: ColumnSpec = { title: 'LAYER/COMPONENT', of: (c) => c.layer, max: 24, order: 3 };
const REASON: ColumnSpec = { title: 'REASON', of: (c) => c.reason, max: 28, order: 2 };
const LOCATION: ColumnSpec = { title: 'LOCATION', of: (c) => (c.retransmit ? '-' : c.location), max: 36, order: 1 };

const GROUPS: Record<TopBy, ColumnSpec[]> = {
  container: [WHERE, LAYER, REASON],
  netns: [NETNS, LAYER, REASON],
  layer: [LAYER],
  reason: [REASON],
  location: [LOCATION, REASON],
};

export interface TopRow {
  cells: string[];
  count: number;
  rate: number;
  benign: boolean;
}

/** Sums the counters by the columns of `by`; `key` of each row is its cells joined. */
export function groupCounts(counts: readonly TopCount[], by: TopBy): Map<string, { cells: string[]; count: number; benign: boolean }> {
  const spec = GROUPS[by];
  const out = new Map<string, { cells: string[]; count: number; benign: boolean }>();
  for (const c of counts) {
    const cells = spec.map((s) => s.of(c));
    const key = cells.join('\t');
    const g = out.get(key);
    if (g) {
      g.count += c.count;
      g.benign &&= c.benign;
    } else out.set(key, { cells, count: c.count, benign: c.benign });
  }
  return out;
}

export interface TopView {
  by: TopBy;
  /** Wall-clock time of the sample, HH:MM:SS. */
  clock: string;
  elapsed: number;
  interval: number;
  drops: number;
  dropRate: number;
  retransmits: number;
  retransmitRate: number;
  lost: number;
  suppressed: number;
  uncounted: number;
  /** Rows not shown because they are benign (without --all). */
  hiddenBenign: number;
  /** The audit since the start, one line (the namespaces' own counters against the kernel-side counts). */
  audit?: string;
  rows: TopRow[];
}

const num = (n: number) => String(Math.round(n));

export interface RenderOptions {
  /** Terminal size; absent: no limit (a pipe). */
  width?: number;
  height?: number;
  colour: boolean;
}

/** The table as lines, none wider than `width`, at most `height` of them. */
export function renderTop(view: TopView, { width, height, colour }: RenderOptions): string[] {
  const spec = GROUPS[view.by];
  const rows = [...view.rows].sort((a, b) => b.rate - a.rate || b.count - a.count);
  const benign = view.hiddenBenign ? `  benign ${view.hiddenBenign} hidden (--all)` : '';
  const title = `droptrace top  ${view.clock}  ${num(view.elapsed)} s traced, every ${view.interval} s, by ${view.by}`;
  const totals =
    `drops ${view.drops} (${num(view.dropRate)}/s)  retransmits ${view.retransmits} (${num(view.retransmitRate)}/s)  ` +
    `lost ${view.lost}  suppressed ${view.suppressed}${view.uncounted ? `  uncounted ${view.uncounted}` : ''}${benign}`;
  const countW = Math.max(5, ...rows.map((r) => String(r.count).length));
  const rateW = Math.max(6, ...rows.map((r) => num(r.rate).length));
  const widths = spec.map((s, i) => Math.min(s.max, Math.max(s.title.length, ...rows.map((r) => (r.cells[i] as string).length))));
  const numbers = countW + rateW + 2;
  if (width !== undefined) {
    // text columns give way in their order, down to 6 columns each
    let over = widths.reduce((a, b) => a + b + 1, 0) + numbers - width;
    for (const i of spec
      .map((s, i) => ({ o: s.order, i }))
      .sort((a, b) => a.o - b.o)
      .map((x) => x.i)) {
      if (over <= 0) break;
      const cut = Math.min(over, (widths[i] as number) - 6);
      if (cut > 0) {
        widths[i] = (widths[i] as number) - cut;
        over -= cut;
      }
    }
  }
  const line = (cells: string[], count: string, rate: string) =>
    `${cells.map((c, i) => cell(c, widths[i] as number)).join(' ')} ${count.padStart(countW)} ${rate.padStart(rateW)}`;
  const head = line(
    spec.map((s) => s.title),
    'COUNT',
    'RATE/s',
  );
  const audit = view.audit ? [view.audit] : [];
  const fixed = 4 + audit.length; // title, totals, the audit, blank, column heads
  let shown = rows;
  let more = '';
  if (height !== undefined && rows.length > Math.max(0, height - fixed)) {
    const room = Math.max(0, height - fixed - 1);
    shown = rows.slice(0, room);
    more = `… ${rows.length - room} more rows (a taller terminal, --by, or a pipe shows them)`;
  }
  const cut = (s: string) => (width === undefined ? s : s.slice(0, width));
  const out = [paint(colour, 'bold', cut(title)), cut(totals), ...audit.map(cut), '', paint(colour, 'inverse', cut(head))];
  for (const r of shown) {
    const text = cut(line(r.cells, String(r.count), num(r.rate)));
    out.push(r.benign ? paint(colour, 'dim', text) : r.rate > 0 ? paint(colour, 'red', text) : text);
  }
  if (more) out.push(cut(more));
  return height === undefined ? out : out.slice(0, height);
}
