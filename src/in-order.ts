/**
 * Releases batches of records in the order they came, each once its evidence is in. A batch with
 * nothing to wait for goes out at once when nothing is held before it. Held records are bounded:
 * a batch that would pass the bound releases everything held before it at once, without its
 * evidence (a storm whose ruleset reads fall behind must not queue the stream in memory: the
 * records go out as they are, their rule not named), and does not wait for its own.
 */
export class InOrder {
  private tail: Promise<void> = Promise.resolve();
  private held = 0;
  /** Resolving it releases what is held now without waiting for its evidence; a new one then starts. */
  private cut = InOrder.gate();

  constructor(
    private readonly maxHeld = 16384,
    private readonly onError: (e: unknown) => void = (e) => {
      queueMicrotask(() => {
        throw e;
      });
    },
  ) {}

  push(ready: Promise<void> | null, size: number, release: () => void): void {
    if (!ready && this.held === 0) {
      release();
      return;
    }
    const over = this.held + size > this.maxHeld;
    if (over) this.cutShort();
    const wait = over || !ready ? null : Promise.race([ready, this.cut.promise]);
    this.held += size;
    this.tail = this.tail
      .then(() => wait)
      .then(() => {
        this.held -= size;
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

  private cutShort(): void {
    this.cut.open();
    this.cut = InOrder.gate();
  }

  private static gate(): { promise: Promise<void>; open: () => void } {
    let open!: () => void;
    const promise = new Promise<void>((resolve) => {
      open = resolve;
    });
    return { promise, open };
  }
}
