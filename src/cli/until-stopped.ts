/** How a tracing verb waits: until SIGINT or SIGTERM, a duration, or another condition, whichever comes first. */

export type StopCause = 'signal' | 'duration' | 'done';

export interface UntilStopped {
  /** Settles with the first cause; listeners and the timer are removed by then. */
  readonly stopped: Promise<StopCause>;
  /** Ends the wait from inside (--count reached, the reader went away, the command exited). */
  done(): void;
}

let signalled = false;

/** Whether a verb was stopped by SIGINT/SIGTERM: then the process must end promptly, whatever stdout's reader does. */
export function stoppedBySignal(): boolean {
  return signalled;
}

export function untilStopped(durationSeconds?: number): UntilStopped {
  let finish: (cause: StopCause) => void = () => {};
  const stopped = new Promise<StopCause>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const onSignal = () => {
      signalled = true;
      finish('signal');
    };
    finish = (cause) => {
      clearTimeout(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(cause);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    if (durationSeconds !== undefined) timer = setTimeout(() => finish('duration'), durationSeconds * 1000);
  });
  return { stopped, done: () => finish('done') };
}
