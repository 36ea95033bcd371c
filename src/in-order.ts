/**
 * Releases batches of records in the order they came, each once its evidence is in. A batch with
 * nothing to wait for goes out at once when nothing is held before it. Held records are bounded:
 * past the bound a batch waits only for those before it, not for its own evidence.
 */
export class InOrder {
  private tail: Promise<void> = Promise.resolve();
  private held = 0;

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
    const wait = this.held + size > this.maxHeld ? null : ready;
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

  /** Resolves once everything pushed so far is released. */
  drained(): Promise<void> {
    return this.tail;
  }
}
