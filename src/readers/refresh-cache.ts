/**
 * A per-namespace cache of a value read from user space, refreshed at most once per interval while
 * it is asked for, with one read in flight at a time. `current()` never waits: the per-event path
 * uses it and picks up the fresh value on a later event.
 */
export class RefreshCache<T> {
  private readonly entries = new Map<string, { value: T | undefined; at: number; pending?: Promise<T>; error?: unknown }>();

  constructor(
    private readonly read: (key: string) => Promise<T>,
    private readonly minIntervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The last value (undefined before the first read finishes); starts a read when due. */
  current(key: string): T | undefined {
    const e = this.entries.get(key);
    if (!e || (!e.pending && this.now() - e.at >= this.minIntervalMs)) {
      this.get(key).catch(() => {
        // kept in the entry as `error`; the per-event path has nobody to tell
      });
    }
    return e?.value;
  }

  /** The value, read now unless the last read is younger than the interval. */
  get(key: string): Promise<T> {
    let e = this.entries.get(key);
    if (e?.pending) return e.pending;
    if (e && e.value !== undefined && this.now() - e.at < this.minIntervalMs) return Promise.resolve(e.value);
    if (!e) {
      e = { value: undefined, at: 0 };
      this.entries.set(key, e);
    }
    const entry = e;
    entry.at = this.now();
    entry.pending = this.read(key).then(
      (value) => {
        entry.value = value;
        entry.error = undefined;
        entry.pending = undefined;
        return value;
      },
      (err: unknown) => {
        entry.error = err;
        entry.pending = undefined;
        throw err;
      },
    );
    return entry.pending;
  }

  /** A value read by someone else just now: fresh for the interval, as if read here. */
  set(key: string, value: T): void {
    const e = this.entries.get(key);
    if (e) {
      e.value = value;
      e.at = this.now();
      e.error = undefined;
    } else this.entries.set(key, { value, at: this.now() });
  }

  lastError(key: string): unknown {
    return this.entries.get(key)?.error;
  }

  forget(key: string): void {
    this.entries.delete(key);
  }
}
