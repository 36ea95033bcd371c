/**
 * Releases batches of records in the order they came, each once its evidence is in. A batch with
 * nothing to wait for goes out at once when nothing is held before it. Held records are bounded:
 * past the bound a batch waits only for those before it, not for its own evidence.
 */
export class InOrder {
  private tail: Promise<void> = Promise.resolve();
  private held = 0;
  /** Resolved by a bounded drain: what is still held goes out at once, without waiting for its evidence. */
  private cutShort!: () => void;
  private readonly cut = new Promise<void>((resolve) => {
    this.cutShort = resolve;
  });

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
    const wait = this.held + size > this.maxHeld || !ready ? null : Promise.race([ready, this.cut]);
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
}
