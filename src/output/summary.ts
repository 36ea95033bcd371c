/** The exit summary on stderr: exact in-kernel counts by reason, and what the stream lost. */
import type { StopRecord } from '../events.js';
import type { SessionStats } from '../session.js';
import { escapeTerminal as esc } from './escape.js';

export function summaryText(stop: StopRecord, stats: SessionStats): string {
  const rows = Object.entries(stop.by_reason).sort((a, b) => b[1] - a[1]);
  const width = Math.max(6, ...rows.map(([r]) => r.length));
  const lines = [
    `droptrace: ${stop.drops} drops, ${stop.retransmits} retransmits; ${stats.delivered} events delivered, ${stop.suppressed} suppressed by the rate limit, ${stop.lost} lost`,
  ];
  for (const [reason, count] of rows) lines.push(`  ${reason.padEnd(width)} ${String(count).padStart(10)}`);
  const containers = Object.entries(stop.by_container ?? {}).sort((a, b) => b[1] - a[1]);
  if (containers.length) {
    lines.push('events shown by container:');
    for (const [name, count] of containers) lines.push(`  ${esc(name).padEnd(width)} ${String(count).padStart(10)}`);
  }
  if (stats.synUnjudged)
    lines.push(
      `${stats.synUnjudged} listener SYNs were not judged refused or accepted (the first of a namespace after the SYN program is attached sets the baselines); the audit says if any was refused`,
    );
  return `${lines.join('\n')}\n`;
}
