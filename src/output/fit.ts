/**
 * One line in a given number of columns: each column has the width it would like and the least it
 * can do with; columns give way in a set order until the line fits, and the last column (the
 * hint) takes what is left. The same width gives every line the same layout, so columns align.
 */
import { paint } from './colour.js';
import { escapeTerminal } from './escape.js';

type Style = Parameters<typeof paint>[1];

export interface Column {
  /** Width when there is room. */
  ideal: number;
  /** Never narrower than this (the line is cut at the terminal's edge instead). */
  min: number;
  /** Lower gives way first. */
  order: number;
  /** Cut long values at the start (`…7.2:5432 > 10.0.0.1:80`) rather than the end. */
  cutStart?: boolean;
}

/** A hint narrower than this is left out: a few letters of it say nothing. */
const MIN_REST = 8;
/** Columns first give way until the hint has this much room: none at 80 columns, 40 from 130 on. */
const wantRest = (width: number) => Math.max(0, Math.min(40, width - 90));

/** The widths of `columns` and of the rest, for a line of `width` columns with one space between. */
export function layout(columns: readonly Column[], width: number): { widths: number[]; rest: number } {
  const widths = columns.map((c) => c.ideal);
  const gaps = columns.length; // one before each column but the first, and one before the rest
  const used = () => widths.reduce((a, b) => a + b, 0) + gaps;
  const byOrder = columns.map((c, i) => ({ c, i })).sort((a, b) => a.c.order - b.c.order);
  for (const { c, i } of byOrder) {
    const short = wantRest(width) - (width - used());
    if (short <= 0) break;
    widths[i] = Math.max(c.min, (widths[i] as number) - short);
  }
  let rest = width - used();
  if (rest < MIN_REST) rest = 0;
  return { widths, rest };
}

export interface Cell {
  text: string;
  style?: Style;
}

/**
 * Joins cells (already cut to their widths) with one space, the rest last when it has room, cut at
 * `width`; colour is applied after measuring, so escape bytes never count as columns.
 */
export function fitLine(cells: readonly Cell[], rest: Cell | null, width: number, colour: boolean): string {
  const all = rest && rest.text !== '' ? [...cells, rest] : [...cells];
  let out = '';
  let used = 0;
  for (const [i, c] of all.entries()) {
    let text = i === all.length - 1 ? c.text.trimEnd() : c.text;
    const room = width - used - (i > 0 ? 1 : 0);
    if (room <= 0) break;
    if (text.length > room) text = text.slice(0, room);
    out += (i > 0 ? ' ' : '') + (c.style ? paint(colour, c.style, text) : text);
    used += (i > 0 ? 1 : 0) + text.length;
  }
  return out;
}

/**
 * `text` in exactly `n` columns: padded, or cut with an ellipsis (at the start with `cutStart`).
 * Every fitted cell holds text a container may have chosen (names, hints, rules): escaped here,
 * before it is measured, so that no control byte reaches the terminal (escaping is idempotent).
 */
export function cell(raw: string, n: number, cutStart = false): string {
  const text = escapeTerminal(raw);
  if (text.length <= n) return text + ' '.repeat(n - text.length);
  if (n <= 0) return '';
  return cutStart ? `…${text.slice(text.length - n + 1)}` : `${text.slice(0, n - 1)}…`;
}
