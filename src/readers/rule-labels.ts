/**
 * Which tool a namespace's drop rules were written with, for views that see only the kernel's
 * counters (`top`): `nft_do_chain` runs iptables-nft and native nft rules alike, so the location
 * cannot tell. The label is `iptables` when every drop rule of the namespace is an iptables one
 * (iptables-nft or legacy), `nftables` when every one is native nft, and unknown otherwise: the
 * same label the stream gives the rule that it names.
 */
import { NetnsPaths } from '../kernel/netns-paths.js';
import { type RuleCounter, readRuleset } from './netfilter-rules.js';
import { type NetnsRunner, nsenterRunner } from './netns-exec.js';

const REFRESH_MS = 10_000;

/** The one label of `rules`' drop rules (the ones that counted, if any did), or undefined. */
export function dropRulesLabel(rules: readonly RuleCounter[]): string | undefined {
  const drop = rules.filter((r) => r.verdict !== null);
  const counted = drop.filter((r) => r.packets > 0);
  const labels = new Set((counted.length ? counted : drop).map((r) => (r.source === 'nftables' ? 'nftables' : 'iptables')));
  return labels.size === 1 ? [...labels][0] : undefined;
}

export class RuleLabels {
  private readonly labels = new Map<number, { label: string | undefined; at: number; reading: boolean }>();
  private readonly paths = new NetnsPaths();

  constructor(
    private readonly run: NetnsRunner = nsenterRunner,
    private readonly now: () => number = Date.now,
  ) {}

  /** The label known now (never waits); starts a read when none is fresh. */
  labelOf(netns: number): string | undefined {
    const e = this.labels.get(netns);
    if (!e || (!e.reading && this.now() - e.at > REFRESH_MS)) void this.read(netns);
    return e?.label;
  }

  /**
   * Reads the namespaces of `counts`' netfilter drops at nft_do_chain that have no label yet, so
   * that a row has its label from its first frame on; waits at most `budgetMs`.
   */
  async ensure(counts: readonly { netns: number; reason: string; location: string }[], budgetMs = 1000): Promise<void> {
    const wanted = new Set<number>();
    for (const c of counts)
      if (c.reason === 'NETFILTER_DROP' && c.location.startsWith('nft_do_chain') && !this.labels.has(c.netns)) wanted.add(c.netns);
    if (wanted.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all([...wanted].map((n) => this.read(n))),
      new Promise<void>((r) => {
        timer = setTimeout(r, budgetMs);
      }),
    ]);
    clearTimeout(timer);
  }

  private async read(netns: number): Promise<void> {
    const e = this.labels.get(netns) ?? { label: undefined, at: 0, reading: false };
    this.labels.set(netns, e);
    const path = this.paths.pathOf(netns);
    if (e.reading || !path) return;
    e.reading = true;
    try {
      // a label once known is kept when a later read cannot tell: one label per rule for the run
      e.label = dropRulesLabel(await readRuleset(path, this.run)) ?? e.label;
    } catch {
      // the namespace went away: its rows keep the location's label
    } finally {
      e.at = this.now();
      e.reading = false;
    }
  }
}
