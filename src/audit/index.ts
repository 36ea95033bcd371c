/**
 * The audit as the verbs use it: the traced namespaces (the filter's, else the tracer's own), how to
 * read each one's counters, and the container a namespace belongs to.
 */
import { readlinkSync } from 'node:fs';
import { type ContainerInfo, toContainer } from '../containers/index.js';
import type { Container } from '../events.js';
import { netnsInodeOfLink } from '../kernel/netns.js';
import { NetnsPaths } from '../kernel/netns-paths.js';
import { Audit } from './audit.js';
import { readNetCounters } from './net-counters.js';

export { AUDITED, Audit, auditText } from './audit.js';
export { parseNetCounters, readNetCounters } from './net-counters.js';

export interface AuditedPipeline {
  filteredNetns(): number[];
  index: { byNetns(netns: number): ContainerInfo | null };
}

function ownNetns(): number {
  return netnsInodeOfLink(readlinkSync('/proc/self/ns/net'));
}

export interface StartedAudit {
  audit: Audit;
  /** Namespaces whose counters could not be read (gone, or no way in). */
  unreadable: number[];
}

/** Reads the start counters; call before attaching, so that nothing traced precedes them. */
export async function startAudit(pipeline: AuditedPipeline, now: () => string): Promise<StartedAudit> {
  const own = ownNetns();
  const paths = new NetnsPaths();
  const audit = new Audit(async (netns) => {
    const path = netns === own ? '/proc/self/ns/net' : paths.pathOf(netns);
    return path ? readNetCounters(path) : undefined;
  }, now);
  const filtered = pipeline.filteredNetns();
  const unreadable = await audit.begin(filtered.length ? filtered : [own]);
  return { audit, unreadable };
}

export function containerOfNetns(pipeline: AuditedPipeline): (netns: number) => Container | null {
  return (netns) => {
    const info = pipeline.index.byNetns(netns);
    return info ? toContainer(info) : null;
  };
}
