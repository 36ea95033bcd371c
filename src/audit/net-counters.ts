/**
 * A network namespace's own SNMP counters, as `nstat` names them (TcpExtListenOverflows,
 * UdpNoPorts, Udp6RcvbufErrors, …): /proc/net/netstat and /proc/net/snmp (pairs of a header line and
 * a value line per group) and /proc/net/snmp6 (one `name value` per line), read from inside the
 * namespace. The bytes come from the kernel of a possibly hostile container's namespace: parsed
 * strictly, bounded, and a line that does not parse is skipped.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';

export type NetCounters = Record<string, number>;

const FILES = ['netstat', 'snmp', 'snmp6', 'dev'] as const;
const IFNAME = /^[^\s:/]{1,15}$/;
const MAX_BYTES = 1 << 20;
const NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/**
 * netstat/snmp: `Group: a b c` followed by `Group: 1 2 3`; snmp6: `Name value` lines; dev: `eth0:`
 * and 16 numbers, of which the receive and transmit drops become `dev:<ifname>:rx_dropped` and
 * `dev:<ifname>:tx_dropped`.
 */
export function parseNetCounters(text: string, into: NetCounters = {}): NetCounters {
  const lines = text.slice(0, MAX_BYTES).split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    const dev = /^([^\s:]+):\s*((?:\d+\s+){15}\d+)$/.exec(line);
    if (dev) {
      const v = dev[2].split(/\s+/).map(Number);
      if (IFNAME.test(dev[1])) {
        into[`dev:${dev[1]}:rx_dropped`] = v[3];
        into[`dev:${dev[1]}:tx_dropped`] = v[11];
      }
      continue;
    }
    const colon = /^([A-Za-z0-9]+):\s(.*)$/.exec(line);
    if (colon) {
      const next = /^([A-Za-z0-9]+):\s(.*)$/.exec((lines[i + 1] ?? '').trim());
      if (!next || next[1] !== colon[1]) continue;
      const names = colon[2].trim().split(/\s+/);
      const values = next[2].trim().split(/\s+/);
      if (names.length !== values.length || Number.isNaN(Number(values[0]))) continue;
      for (let k = 0; k < names.length; k++) {
        const name = `${colon[1]}${names[k]}`;
        const v = Number(values[k]);
        if (NAME.test(name) && Number.isFinite(v)) into[name] = v;
      }
      i++;
      continue;
    }
    const pair = /^([A-Za-z][A-Za-z0-9_]*)\s+(-?\d+)$/.exec(line);
    if (pair && NAME.test(pair[1])) into[pair[1]] = Number(pair[2]);
  }
  return into;
}

function nsenterCat(netnsPath: string, files: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'nsenter',
      [`--net=${netnsPath}`, '--', 'cat', ...files],
      { timeout: 5000, maxBuffer: 4 * MAX_BYTES, encoding: 'utf8' },
      (err, stdout) => (err ? reject(err) : resolve(stdout)),
    );
  });
}

/**
 * The counters of the namespace at `netnsPath` (`/proc/<pid>/ns/net`: read through that process's
 * /proc/<pid>/net without entering anything; an `ip netns` path: through nsenter, since /proc/net
 * answers for the reader's own namespace).
 */
export async function readNetCounters(netnsPath: string): Promise<NetCounters> {
  const proc = /^\/proc\/(\d+|self)\/ns\/net$/.exec(netnsPath);
  const out: NetCounters = {};
  if (proc) {
    for (const f of FILES) {
      const text = await readFile(`/proc/${proc[1]}/net/${f}`, 'utf8').catch(() => '');
      parseNetCounters(text, out);
    }
    return out;
  }
  // one cat per namespace; snmp6 is absent when IPv6 is off, so read what exists (cat reports the rest)
  const text = await nsenterCat(
    netnsPath,
    FILES.map((f) => `/proc/self/net/${f}`),
  ).catch((e: { stdout?: string }) => e.stdout ?? '');
  return parseNetCounters(text, out);
}
