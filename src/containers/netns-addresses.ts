/**
 * A namespace's own addresses read from the outside: `/proc/<pid>/net/fib_trie` lists the IPv4
 * local routes and `/proc/<pid>/net/if_inet6` the IPv6 addresses of the netns that <pid> is in,
 * so the procfs fallback knows addresses without entering any namespace. Pure parsers.
 */
import { isAttributable, normalizeAddress } from './address.js';

/** IPv4 addresses with a `/32 host LOCAL` route, loopback excluded. */
export function parseFibTrieLocal(text: string): string[] {
  const out = new Set<string>();
  let last: string | null = null;
  for (const line of text.split('\n')) {
    const leaf = /^\s*\|--\s+(\d+\.\d+\.\d+\.\d+)\s*$/.exec(line);
    if (leaf) {
      last = leaf[1];
      continue;
    }
    if (last !== null && /^\s*\/32 host LOCAL\s*$/.test(line) && isAttributable(last)) out.add(last);
  }
  return [...out];
}

/** Global-scope IPv6 addresses from `if_inet6` (hex address, ifindex, prefix, scope, flags, name). */
export function parseIfInet6(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6 || f[0].length !== 32) continue;
    if (f[3] !== '00') continue; // scope: 00 global; 10 host, 20 link
    const hex = f[0];
    const groups: string[] = [];
    for (let i = 0; i < 32; i += 4) groups.push(hex.slice(i, i + 4));
    const addr = normalizeAddress(groups.join(':'));
    if (addr !== null && isAttributable(addr)) out.push(addr);
  }
  return out;
}
