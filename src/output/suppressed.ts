/** The human line for a suppressed record: what the rate limit counted instead of showing. */
import type { SuppressedRecord } from '../events.js';

export function suppressedLine(r: SuppressedRecord): string {
  const what = r.event === 'drop' ? `${r.reason} at ${r.location}` : 'retransmits';
  return `${r.time.slice(11, 26)}  netns:${r.netns}  ${r.count} more ${what} (${r.total} in all): counted, not shown (--rate-limit ${r.rate_limit}/s)`;
}
