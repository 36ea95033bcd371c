/**
 * Follow-on drops: packets the kernel drops because something else already broke the connection.
 * They are real drops but not causes, so `explain` lists them apart (or under the cause they follow)
 * instead of ranking them with the causes.
 */
import type { DropRecord } from '../events.js';

/** Why a drop is a follow-on, or null when it may be a cause. */
export function followOnOf(e: DropRecord): string | null {
  if (e.proto !== 'tcp' || !e.tcp_flags) return null;
  const flags = e.tcp_flags.split('|');
  // a reset for a connection this end no longer has, or never completed (the peer gave up after
  // the loss that matters): the reset itself loses nothing
  if (flags.includes('RST')) return 'reset of a connection already gone or never completed';
  return null;
}

/**
 * Segments of a connection this host does not have (NO_SOCKET, no SYN): a follow-on when another
 * cause in the same place concerns the same local port (the handshake was lost there, then the
 * client's data and ACKs find no connection); on their own they may be a cause (a restarted server).
 */
export function orphanSegment(e: DropRecord): boolean {
  return e.proto === 'tcp' && e.reason === 'NO_SOCKET' && e.tcp_flags !== null && !e.tcp_flags.split('|').includes('SYN');
}

/** The local port of a received drop (the port a cause and its follow-ons share). */
export function localPort(e: { direction?: string; sport: number | null; dport: number | null }): number | null {
  return e.direction === 'tx' ? e.sport : e.dport;
}
