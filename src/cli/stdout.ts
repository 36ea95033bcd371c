/**
 * Writing to stdout (and stderr) when the reader may go away: `droptrace top --json | head -1`
 * closes the pipe after one line. Node reports the broken pipe as an 'error' event on the stream,
 * and an 'error' event with no listener kills the process with a stack trace. Every verb writes
 * through here: a reader that left is not an error, the verb ends, and the exit status stays 0.
 */

interface OutputState {
  closed: boolean;
  /** Given up on: what is queued will never be read (a stopped reader at exit). */
  abandoned: boolean;
  waiters: Set<() => void>;
}

const states = new WeakMap<NodeJS.WritableStream, OutputState>();

/** The reader went away: what a write to a pipe or socket then fails with. */
const GONE = new Set(['EPIPE', 'ECONNRESET', 'ERR_STREAM_DESTROYED', 'ERR_STREAM_WRITE_AFTER_END']);

function stateOf(stream: NodeJS.WritableStream): OutputState {
  let state = states.get(stream);
  if (state) return state;
  const s: OutputState = { closed: false, abandoned: false, waiters: new Set() };
  states.set(stream, s);
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (s.closed) return;
    // any other write error (EIO on a hung-up terminal, ENOSPC on a file) ends the output too, said once
    if (!GONE.has(e.code ?? '') && stream !== process.stderr) process.stderr.write(`droptrace: output failed: ${e.code ?? e.message}\n`);
    s.closed = true;
    for (const fn of s.waiters) fn();
    s.waiters.clear();
  });
  state = s;
  return state;
}

/** Installs the broken-pipe handling on `stream` (idempotent); returns the stream. */
export function guardOutput<T extends NodeJS.WritableStream>(stream: T): T {
  stateOf(stream);
  return stream;
}

/**
 * Writes `chunk` unless the reader has gone. Returns what `stream.write` returns (false: wait for
 * 'drain'); true once the reader has gone, since nothing will ever drain. `done` runs when the
 * chunk was handed to the kernel (or dropped because the reader left).
 */
export function writeOut(stream: NodeJS.WritableStream, chunk: string | Uint8Array, done?: () => void): boolean {
  const state = stateOf(stream);
  if (state.closed || chunk.length === 0) {
    if (done) queueMicrotask(done);
    return true;
  }
  return done ? stream.write(chunk, () => done()) : stream.write(chunk);
}

export function outputClosed(stream: NodeJS.WritableStream): boolean {
  return stateOf(stream).closed;
}

/**
 * Gives up on what `stream` still holds: nothing more is written, and the process may exit without
 * it. process.stdout cannot be destroyed (its queued writes keep the event loop alive), so main()
 * ends the process when the output was abandoned.
 */
export function abandonOutput(stream: NodeJS.WritableStream): void {
  const state = stateOf(stream);
  state.abandoned = true;
  state.closed = true;
  if (stream !== process.stdout && stream !== process.stderr) (stream as NodeJS.WritableStream & { destroy?: () => void }).destroy?.();
}

export function outputAbandoned(stream: NodeJS.WritableStream): boolean {
  return stateOf(stream).abandoned;
}

/** Resolves true once `stream` has handed everything to the kernel, false after `timeoutMs`. */
export function waitFlushed(stream: NodeJS.WritableStream & { writableLength?: number }, timeoutMs: number): Promise<boolean> {
  if (!stream.writableLength || outputClosed(stream)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      stream.off('drain', onDrain);
      resolve(ok);
    };
    const onDrain = () => {
      if (!stream.writableLength) done(true);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    stream.on('drain', onDrain);
  });
}

/** Runs `fn` once when the reader goes away (at once if it has). Returns an unsubscribe. */
export function onOutputClosed(stream: NodeJS.WritableStream, fn: () => void): () => void {
  const state = stateOf(stream);
  if (state.closed) {
    fn();
    return () => {};
  }
  state.waiters.add(fn);
  return () => state.waiters.delete(fn);
}
