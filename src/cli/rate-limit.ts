/**
 * --rate-limit: events per second per key (a drop's netns, reason and location; a retransmit's
 * netns) and CPU that the kernel streams. The rest are counted in the kernel and reported as
 * `suppressed` records, so a storm of one kind costs a counter update per drop, not an event, and
 * the counts stay exact. 0 streams everything.
 *
 * The defaults: a person can read about ten lines a second of one kind; a log pipeline or a
 * findings table learns nothing new from the hundred-and-first identical drop of a second.
 */
import { nonNegativeInteger } from './options.js';

export const DEFAULT_RATE_LIMIT = {
  text: 10,
  json: 100,
  explain: 100,
  check: 100,
} as const;

export const RATE_LIMIT_FLAGS = '--rate-limit <n>';

export function rateLimitHelp(output: string): string {
  return `events per second per kind of drop (netns, reason, location) streamed, the rest counted as suppressed; 0: all (${output})`;
}

export const parseRateLimit = nonNegativeInteger('--rate-limit');
