/**
 * Releases batches of records in the order they came, each once its evidence is in. A batch with
 * nothing to wait for goes out at once when nothing is held before it. Held records are bounded:
 * a batch that would pass the bound releases everything held before it at once, without its
 * evidence (a storm whose ruleset reads fall behind must not queue the stream in memory: the
 * records go out as they are, their rule not named), and does not wait for its own.
 */
/** What a batch waits for: its evidence, and what to do if it is released without it. */
export interface Pending {
  ready: Promise<void>;
  /** The batch went out before its evidence came: whatever would fill it in later must not. */
  abandon(): void;
}

export class InOrder {
  private tail: Promise<void> = Promise.resolve();
  private held = 0;
  /** The waits that a cut ends now, one per held batch (a shared promise would collect a reaction per batch). */
  private readonly cutters = new Set<() => void>();

  constructor(
    private readonly maxHeld = 4096,
    private readonly onError: (e: unknown) => void = (e) => {
      queueMicrotask(() => {
        throw e;
      });
    },
  ) {}

  push(evidence: Pending | null, size: number, release: () => void): void {
    if (!evidence && this.held === 0) {
      release();
      return;
    }
    const over = this.held + size > this.maxHeld;
    if (over) this.cutShort();
    let cut = over && evidence !== null;
    let wait: Promise<void> | null = null;
    if (evidence && !over) {
      wait = new Promise<void>((resolve) => {
        const done = () => {
          this.cutters.delete(interrupt);
          resolve();
        };
        const interrupt = () => {
          cut = true;
          done();
        };
        this.cutters.add(interrupt);
        evidence.ready.then(done, done);
      });
    }
    this.held += size;
    this.tail = this.tail
      .then(() => wait)
      .then(() => {
        this.held -= size;
        if (cut) evidence?.abandon();
        release();
      })
      .catch(this.onError);
  }

  /** Nothing is held. */
  get idle(): boolean {
    return this.held === 0;
  }

  /**
   * Resolves once everything pushed so far is released. With `budgetMs`, evidence is waited for
   * that long at most (a stop must not hang on a slow ruleset read): then the rest is released as is.
   */
  drained(budgetMs?: number): Promise<void> {
    if (budgetMs === undefined) return this.tail;
    const timer = setTimeout(() => this.cutShort(), budgetMs);
    return this.tail.finally(() => clearTimeout(timer));
  }

  /** Everything held now goes out without waiting for its evidence. */
  private cutShort(): void {
    for (const interrupt of [...this.cutters]) interrupt();
  }
}
