/**
 * When the SYN program runs. It is how droptrace sees a SYN refused by a full accept or SYN queue
 * (the kernel consumes those, it does not drop them), but it runs on every consume_skb of the host,
 * tens of nanoseconds each. So it is attached only while a traced namespace's listeners refuse
 * connections: every second the watch reads each traced namespace's TcpExtListenDrops (every
 * refusal by a listener, whichever queue), attaches the program on the first rise and detaches it
 * after a minute without one. What it cannot see before it is attached (up to a second's worth,
 * and the first SYN of a namespace on each CPU after, which sets that CPU's baseline) the audit
 * reports as untraced against TcpExtListenOverflows.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import { parseNetCounters } from './audit/net-counters.js';

export const LISTEN_SYN_MODES = ['auto', 'always'] as const;
/** auto: attached while listeners refuse; always: from the start (exact, at the cost above on every consume_skb). */
export type ListenSynMode = (typeof LISTEN_SYN_MODES)[number];

const COUNTER = 'TcpExtListenDrops';
/** How often the process → namespace map is rebuilt (a namespace's first process can come later). */
const RESCAN_MS = 5000;

export interface ListenWatchOptions {
  /** The traced namespaces, or null when every namespace of the host is traced. */
  namespaces: () => readonly number[] | null;
  /** Attaches (true) or detaches the program; returns whether it is attached. */
  set: (on: boolean) => boolean;
  /** One line when the program is attached and when it is detached. */
  log?: (line: string) => void;
  /** A name for a namespace in that line. */
  nameOf?: (netns: number) => string | undefined;
  intervalMs?: number;
  quietMs?: number;
  procDir?: string;
  now?: () => number;
}

function netnsInode(link: string): number {
  return Number(/^net:\[(\d+)\]$/.exec(link)?.[1] ?? 0);
}

export class ListenWatch {
  private readonly seen = new Map<number, number>();
  /** A process living in each namespace (a listener needs one), from the last scan. */
  private pids = new Map<number, string>();
  private scannedAt = Number.NEGATIVE_INFINITY;
  private lastRise = Number.NEGATIVE_INFINITY;
  private attached = false;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private failed = false;
  private readonly intervalMs: number;
  private readonly quietMs: number;
  private readonly proc: string;
  private readonly now: () => number;

  constructor(private readonly opts: ListenWatchOptions) {
    this.intervalMs = opts.intervalMs ?? 1000;
    this.quietMs = opts.quietMs ?? 60_000;
    this.proc = opts.procDir ?? '/proc';
    this.now = opts.now ?? Date.now;
  }

  /** Whether the program is attached now. */
  get active(): boolean {
    return this.attached;
  }

  /** Takes the first reading now (the baselines), then one per interval. */
  start(): void {
    if (this.timer) return;
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One reading of every traced namespace; exported for tests, which drive it by hand. */
  async tick(): Promise<void> {
    if (this.busy || this.failed) return;
    this.busy = true;
    try {
      const rose = await this.read();
      const now = this.now();
      if (rose.length) {
        this.lastRise = now;
        if (!this.attached) {
          this.attached = this.opts.set(true);
          if (this.attached) {
            const where = rose.map((n) => this.opts.nameOf?.(n) ?? `netns:${n}`).join(', ');
            this.opts.log?.(
              `listeners in ${where} are refusing connections (${COUNTER} rose): from now on, SYNs refused by a full accept or SYN queue are traced`,
            );
          }
        }
      } else if (this.attached && now - this.lastRise >= this.quietMs) {
        this.attached = this.opts.set(false);
        this.opts.log?.(`no listener refused a connection for ${Math.round(this.quietMs / 1000)} s: refused SYNs are no longer traced`);
      }
    } catch (e) {
      // the kernel refused to attach it: said once, and the watch ends (the audit still counts refusals)
      this.opts.log?.(`cannot trace refused SYNs: ${(e as Error).message}`);
      this.stop();
      this.failed = true;
    } finally {
      this.busy = false;
    }
  }

  /** The namespaces whose counter rose since their last reading. */
  private async read(): Promise<number[]> {
    const now = this.now();
    if (now - this.scannedAt >= RESCAN_MS) await this.rescan(now);
    const wanted = this.opts.namespaces() ?? [...this.pids.keys()];
    const rose: number[] = [];
    await Promise.all(
      wanted.map(async (netns) => {
        const value = await this.value(netns);
        if (value === undefined) return;
        const before = this.seen.get(netns);
        this.seen.set(netns, value);
        if (before !== undefined && value > before) rose.push(netns);
      }),
    );
    return rose;
  }

  /** The counter of one namespace, read through a process inside it (checked to still be there). */
  private async value(netns: number): Promise<number | undefined> {
    const pid = this.pids.get(netns);
    if (!pid) return undefined;
    try {
      if (netnsInode(await readlink(`${this.proc}/${pid}/ns/net`)) !== netns) throw new Error('moved');
      return parseNetCounters(await readFile(`${this.proc}/${pid}/net/netstat`, 'utf8'))[COUNTER];
    } catch {
      // the process exited (or its pid now names another namespace's): find another next time
      this.pids.delete(netns);
      this.scannedAt = Number.NEGATIVE_INFINITY;
      return undefined;
    }
  }

  private async rescan(now: number): Promise<void> {
    this.scannedAt = now;
    const pids = new Map<number, string>();
    const entries = await readdir(this.proc).catch(() => [] as string[]);
    await Promise.all(
      entries
        .filter((pid) => pid.charCodeAt(0) >= 0x30 && pid.charCodeAt(0) <= 0x39)
        .map(async (pid) => {
          const ino = netnsInode(await readlink(`${this.proc}/${pid}/ns/net`).catch(() => ''));
          if (ino && !pids.has(ino)) pids.set(ino, pid);
        }),
    );
    this.pids = pids;
  }
}
