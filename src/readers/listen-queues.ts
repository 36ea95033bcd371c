/**
 * Accept queues of a namespace's TCP listeners, as `ss -ltn` reports them (Recv-Q: children waiting
 * for accept(), Send-Q: the limit), by local port and summed over the listeners of a port
 * (SO_REUSEPORT gives each its own queue). Evidence for SYNs refused at SYN time, where the kernel
 * hands the tracer no socket: read inside the namespace, at most once a second, never on the
 * per-event path.
 */
import { type NetnsRunner, nsenterRunner } from './netns-exec.js';
import { RefreshCache } from './refresh-cache.js';

export interface ListenQueue {
  len: number;
  limit: number;
}

/** `ss -Hltn` lines (`LISTEN 2 1 10.0.0.2:8080 0.0.0.0:*`, `[::]:80`) → port → queue. */
export function parseListenQueues(text: string): Map<number, ListenQueue> {
  const out = new Map<number, ListenQueue>();
  for (const line of text.split('\n')) {
    const m = /^LISTEN\s+(\d+)\s+(\d+)\s+\S*:(\d{1,5})\s/.exec(line.trim());
    if (!m) continue;
    const port = Number(m[3]);
    const q = out.get(port) ?? { len: 0, limit: 0 };
    q.len += Number(m[1]);
    q.limit += Number(m[2]);
    out.set(port, q);
  }
  return out;
}

export class ListenQueues {
  private readonly cache: RefreshCache<Map<number, ListenQueue>>;

  constructor(run: NetnsRunner = nsenterRunner, minIntervalMs = 1000) {
    this.cache = new RefreshCache(async (path) => {
      const r = await run(path, ['ss', '-Hltn']);
      return r.code === 0 ? parseListenQueues(r.stdout) : new Map();
    }, minIntervalMs);
  }

  /** Never waits: undefined until the namespace's first read is done. */
  current(netnsPath: string, port: number): ListenQueue | undefined {
    return this.cache.current(netnsPath)?.get(port);
  }

  forget(netnsPath: string): void {
    this.cache.forget(netnsPath);
  }
}
