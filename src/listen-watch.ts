/**
 * When the SYN program runs. It is how droptrace sees a SYN refused by a full accept or SYN queue
 * (the kernel consumes those, it does not drop them), but it runs on every consume_skb of the host,
 * tens of nanoseconds each. So it is attached only while a traced namespace's listeners refuse
 * connections: every second the watch reads each traced namespace's TcpExtListenDrops (every
 * refusal by a listener, whichever queue), attaches the program on the first rise and detaches it
 * after a minute without one. What it cannot see before it is attached (up to a second's worth,
 * and the first SYN of a namespace after, which sets every CPU's baseline) the audit reports as
 * untraced against TcpExtListenOverflows.
 */
import { readFile, readlink } from 'node:fs/promises';
import { parseNetCounters, readNetCounters } from './audit/net-counters.js';
import { netnsInodeOfLink } from './kernel/netns.js';
import { NetnsPaths } from './kernel/netns-paths.js';

export const LISTEN_SYN_MODES = ['auto', 'always'] as const;
/** auto: attached while listeners refuse; always: from the start (exact, at the cost above on every consume_skb). */
export type ListenSynMode = (typeof LISTEN_SYN_MODES)[number];

const COUNTER = 'TcpExtListenDrops';
/** How old the process → namespace map may be (a namespace's first process can come later). */
const RESCAN_MS = 5000;
/** A traced namespace with no process to read through is read by entering it, this often at most. */
const ENTER_EVERY_MS = 5000;

export interface ListenWatchOptions {
  /** The traced namespaces, or null when every namespace of the host is traced. */
  namespaces: () => readonly number[] | null;
  /** Attaches (true) or detaches the program; returns whether it is attached. Throws when the kernel refuses. */
  set: (on: boolean) => boolean;
  /** One line when the program is attached and when it is detached. */
  log?: (line: string) => void;
  /** A name for a namespace in that line. */
  nameOf?: (netns: number) => string | undefined;
  intervalMs?: number;
  quietMs?: number;
  /** How to reach each namespace (tests give one over a /proc of their own). */
  paths?: NetnsPaths;
  procDir?: string;
  /** A monotonic clock (ms): a wall-clock step must not end or stretch the quiet minute. */
  now?: () => number;
}

export class ListenWatch {
  private readonly seen = new Map<number, number>();
  private readonly enteredAt = new Map<number, number>();
  private lastRise = Number.NEGATIVE_INFINITY;
  private attached = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private readonly intervalMs: number;
  private readonly quietMs: number;
  private readonly proc: string;
  private readonly paths: NetnsPaths;
  private readonly now: () => number;

  constructor(private readonly opts: ListenWatchOptions) {
    this.intervalMs = opts.intervalMs ?? 1000;
    this.quietMs = opts.quietMs ?? 60_000;
    this.proc = opts.procDir ?? '/proc';
    this.now = opts.now ?? (() => performance.now());
    this.paths = opts.paths ?? new NetnsPaths(undefined, this.now, this.proc);
  }

  /** Whether the program is attached now. */
  get active(): boolean {
    return this.attached;
  }

  /** Takes the first reading now (the baselines), then one per interval. */
  start(): void {
    if (this.timer || this.stopped) return;
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  /** No reading and no line after this (the program itself is detached with the tracer). */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One reading of every traced namespace; exported for tests, which drive it by hand. */
  async tick(): Promise<void> {
    if (this.busy || this.stopped) return;
    this.busy = true;
    try {
      const rose = await this.read();
      if (this.stopped) return;
      const now = this.now();
      if (rose.length) {
        this.lastRise = now;
        if (!this.attached) this.attach(rose);
      } else if (this.attached && now - this.lastRise >= this.quietMs) {
        this.detach();
      }
    } finally {
      this.busy = false;
    }
  }

  private attach(rose: number[]): void {
    try {
      this.attached = this.opts.set(true);
    } catch (e) {
      // the kernel refused it: said once, and the watch ends (the audit still counts the refusals)
      this.opts.log?.(`cannot trace refused SYNs: ${(e as Error).message}`);
      this.stop();
      return;
    }
    if (!this.attached) return;
    const where = rose.map((n) => this.opts.nameOf?.(n) ?? `netns:${n}`).join(', ');
    this.opts.log?.(
      `listeners in ${where} are refusing connections (${COUNTER} rose): from now on, SYNs refused by a full accept or SYN queue are traced`,
    );
  }

  private detach(): void {
    try {
      this.attached = this.opts.set(false);
    } catch (e) {
      // left attached: it costs what it did, and the next quiet minute tries again
      this.opts.log?.(`cannot detach the refused-SYN program: ${(e as Error).message}`);
      this.lastRise = this.now();
      return;
    }
    this.opts.log?.(`no listener refused a connection for ${Math.round(this.quietMs / 1000)} s: refused SYNs are no longer traced`);
  }

  /** The namespaces whose counter rose since their last reading. */
  private async read(): Promise<number[]> {
    const filtered = this.opts.namespaces();
    const wanted = filtered ?? this.paths.inodes(RESCAN_MS);
    // namespaces no longer traced, or gone, are forgotten (a reused inode starts from a new baseline)
    const keep = new Set(wanted);
    for (const n of this.seen.keys()) if (!keep.has(n)) this.seen.delete(n);
    const rose: number[] = [];
    await Promise.all(
      wanted.map(async (netns) => {
        const value = await this.value(netns, filtered !== null);
        if (value === undefined) return;
        const before = this.seen.get(netns);
        this.seen.set(netns, value);
        if (before !== undefined && value > before) rose.push(netns);
      }),
    );
    return rose;
  }

  /**
   * The counter of one namespace: through a process inside it (checked before and after the read,
   * so that a pid reused by another namespace's process is never read as this one), else, for a
   * namespace the filter names, by entering it, at most every few seconds.
   */
  private async value(netns: number, named: boolean): Promise<number | undefined> {
    const pid = this.paths.pidOf(netns, RESCAN_MS);
    if (pid) {
      const link = `${this.proc}/${pid}/ns/net`;
      try {
        if (netnsInodeOfLink(await readlink(link)) !== netns) throw new Error('moved');
        const value = parseNetCounters(await readFile(`${this.proc}/${pid}/net/netstat`, 'utf8'))[COUNTER];
        if (netnsInodeOfLink(await readlink(link)) !== netns) throw new Error('moved');
        return value;
      } catch {
        this.paths.forget(netns); // exited or moved: the next scan finds another
        return undefined;
      }
    }
    const path = named ? this.paths.pathOf(netns, { rescan: false }) : undefined;
    if (!path) return undefined;
    const now = this.now();
    if (now - (this.enteredAt.get(netns) ?? Number.NEGATIVE_INFINITY) < ENTER_EVERY_MS) return this.seen.get(netns);
    this.enteredAt.set(netns, now);
    return (await readNetCounters(path).catch(() => ({}) as Record<string, number>))[COUNTER];
  }
}
