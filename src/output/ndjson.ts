/**
 * NDJSON: one record per line, keys in the order the records were built (src/events.ts), no
 * pretty-printing. Records are data: they go to stdout, diagnostics to stderr.
 */
import type { DroptraceRecord } from '../events.js';
import { escapeJsonText } from './escape.js';

/** One record as one NDJSON line. */
export function jsonLine(record: DroptraceRecord): string {
  return escapeJsonText(`${JSON.stringify(record)}\n`);
}

/** Records as NDJSON text; the stream writes it through jsonBytes() (src/output/escape.ts). */
export function ndjsonLines(records: readonly DroptraceRecord[]): string {
  let out = '';
  for (const r of records) out += `${JSON.stringify(r)}\n`;
  return out;
}
