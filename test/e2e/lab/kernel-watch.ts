/**
 * An independent witness for the lab: bpftrace on skb:kfree_skb, tcp:tcp_retransmit_skb and
 * tcp:tcp_retransmit_synack, keeping only events whose netns is one of the given inodes.
 * It proves that a scenario makes the kernel event, without droptrace.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

const TRACEFS = '/sys/kernel/tracing';

export interface KernelDrop {
  type: 'drop';
  netns: number;
  reason: string;
  reasonCode: number;
  location: string;
  ifindex: number;
  protocol: number;
}

export interface KernelRetransmit {
  type: 'retransmit' | 'synack';
  netns: number;
  /** Kernel TCP state name without TCP_ (retransmit only; '' for synack). */
  state: string;
  sport: number;
  dport: number;
  /** icsk_ca_state (0 Open, 1 Disorder, 2 CWR, 3 Recovery, 4 Loss) and icsk_pending (5 = loss probe). */
  caState: number;
  pending: number;
}

export type KernelEvent = KernelDrop | KernelRetransmit;

export function ensureTracefs(): void {
  if (existsSync(`${TRACEFS}/events/skb/kfree_skb`)) return;
  const r = spawnSync('mount', ['-t', 'tracefs', 'nodev', TRACEFS], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot mount tracefs: ${r.stderr}`);
}

/** Reason names from the tracepoint's own print format: `{ 2, "NOT_SPECIFIED" }, …`. */
export function dropReasonNames(): Map<number, string> {
  const fmt = readFileSync(`${TRACEFS}/events/skb/kfree_skb/format`, 'utf8');
  const names = new Map<number, string>();
  for (const m of fmt.matchAll(/\{\s*(\d+),\s*"([A-Z0-9_]+)"\s*\}/g)) names.set(Number(m[1]), m[2]);
  if (names.size === 0) throw new Error('no drop reason names in the kfree_skb format');
  return names;
}

const TCP_STATES = [
  '',
  'ESTABLISHED',
  'SYN_SENT',
  'SYN_RECV',
  'FIN_WAIT1',
  'FIN_WAIT2',
  'TIME_WAIT',
  'CLOSE',
  'CLOSE_WAIT',
  'LAST_ACK',
  'LISTEN',
  'CLOSING',
  'NEW_SYN_RECV',
];

function script(inodes: number[]): string {
  const match = inodes.map((i) => `$ns == ${i}`).join(' || ');
  // netns from skb->dev, else skb->sk, else rx_sk: the order droptrace uses (bpf/droptrace.bpf.c)
  return `
BEGIN { printf("READY\\n"); }
tracepoint:skb:kfree_skb {
  $s = (struct sk_buff *)args->skbaddr;
  $ns = (uint32)0;
  $ifindex = 0;
  $dev = $s->dev;
  if ($dev != 0) { $ns = $dev->nd_net.net->ns.inum; $ifindex = $dev->ifindex; }
  else if ($s->sk != 0) { $ns = $s->sk->__sk_common.skc_net.net->ns.inum; }
  else if (args->rx_sk != 0) { $ns = ((struct sock *)args->rx_sk)->__sk_common.skc_net.net->ns.inum; }
  if (${match}) { printf("D %u %d %d %d %s\\n", $ns, args->reason, $ifindex, args->protocol, ksym(args->location)); }
}
tracepoint:tcp:tcp_retransmit_skb {
  $ns = ((struct sock *)args->skaddr)->__sk_common.skc_net.net->ns.inum;
  $ic = (struct inet_connection_sock *)args->skaddr;
  if (${match}) {
    printf("R %u %d %d %d %d %d\\n", $ns, args->state, args->sport, args->dport, $ic->icsk_ca_state, $ic->icsk_pending);
  }
}
tracepoint:tcp:tcp_retransmit_synack {
  $ns = ((struct sock *)args->skaddr)->__sk_common.skc_net.net->ns.inum;
  if (${match}) { printf("S %u 0 %d %d 0 0\\n", $ns, args->sport, args->dport); }
}
`;
}

export class KernelWatch {
  private out = '';
  private err = '';
  private readonly exited: Promise<number | null>;

  private constructor(
    private readonly child: ChildProcess,
    private readonly names: Map<number, string>,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    child.stdout?.on('data', (d: Buffer) => {
      this.out += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      this.err += d.toString();
    });
  }

  /** Starts bpftrace and waits until its probes are attached. */
  static async start(inodes: number[]): Promise<KernelWatch> {
    ensureTracefs();
    const names = dropReasonNames();
    // BPFTRACE_STRLEN etc. are fine by default; -B line keeps output flowing through the pipe
    const child = spawn('bpftrace', ['-B', 'line', '-e', script(inodes)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const w = new KernelWatch(child, names);
    const deadline = Date.now() + 15_000;
    while (!w.out.includes('READY')) {
      if (child.exitCode !== null) throw new Error(`bpftrace exited: ${w.err}`);
      if (Date.now() > deadline) {
        w.kill();
        throw new Error(`bpftrace not ready in 15 s: ${w.err}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    return w;
  }

  /** Stops bpftrace (SIGINT, by its PID) and returns what it saw. */
  async stop(): Promise<KernelEvent[]> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGINT');
    const t = setTimeout(() => this.kill(), 5000);
    await this.exited;
    clearTimeout(t);
    return this.events();
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  events(): KernelEvent[] {
    const evs: KernelEvent[] = [];
    for (const line of this.out.split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f[0] === 'D' && f.length >= 6) {
        const code = Number(f[2]);
        evs.push({
          type: 'drop',
          netns: Number(f[1]),
          reasonCode: code,
          reason: this.names.get(code) ?? String(code),
          ifindex: Number(f[3]),
          protocol: Number(f[4]),
          location: f[5],
        });
      } else if ((f[0] === 'R' || f[0] === 'S') && f.length >= 7) {
        evs.push({
          type: f[0] === 'R' ? 'retransmit' : 'synack',
          netns: Number(f[1]),
          state: TCP_STATES[Number(f[2])] ?? f[2],
          sport: Number(f[3]),
          dport: Number(f[4]),
          caState: Number(f[5]),
          pending: Number(f[6]),
        });
      }
    }
    return evs;
  }
}
