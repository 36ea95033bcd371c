/** Small formatters of the decode hot path: cached where the same value recurs. */
import { isUtf8 } from 'node:buffer';

const TCP_FLAG_NAMES = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR'];

/** "SYN|ACK" for every flag byte, built once. */
export const TCP_FLAGS: readonly string[] = Array.from({ length: 256 }, (_, byte) =>
  TCP_FLAG_NAMES.filter((_, bit) => byte & (1 << bit)).join('|'),
);

const L4_NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6', 132: 'sctp' };
export const L4_PROTO: readonly string[] = Array.from({ length: 256 }, (_, n) => L4_NAMES[n] ?? String(n));
export const L4_NUMBER: Readonly<Record<string, number>> = Object.fromEntries(
  Object.entries(L4_NAMES).map(([n, name]) => [name, Number(n)]),
);

/** A storm comes from a handful of addresses: their text is made once (bounded, started over when full). */
const IPV4_CACHE_MAX = 4096;
const ipv4Text = new Map<number, string>();

export function formatIPv4(buf: Buffer, off: number): string {
  const key = buf.readUInt32LE(off);
  let text = ipv4Text.get(key);
  if (text === undefined) {
    text = `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
    if (ipv4Text.size >= IPV4_CACHE_MAX) ipv4Text.clear();
    ipv4Text.set(key, text);
  }
  return text;
}

/** RFC 5952 text: lowercase, the longest run of two or more zero groups as "::". */
export function formatIPv6(buf: Buffer, off: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((buf[off + 2 * i] << 8) | buf[off + 2 * i + 1]);
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
    return `::ffff:${buf[off + 12]}.${buf[off + 13]}.${buf[off + 14]}.${buf[off + 15]}`;
  }
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/**
 * A NUL-terminated C string of at most `len` bytes, as the kernel holds it: interface names are
 * bytes (dev_valid_name() in net/core/dev.c refuses only '/', ':' and whitespace), so a name is
 * UTF-8 text where the bytes are valid UTF-8, and otherwise each byte outside a valid sequence is
 * written `\xNN`. Control characters stay in the string (JSON escapes them; text output escapes
 * them at the terminal edge, src/output/escape.ts).
 */
export function cString(buf: Buffer, off: number, len: number): string {
  let end = off;
  let ascii = true;
  const max = off + len;
  while (end < max && buf[end] !== 0) {
    if (buf[end] >= 0x80) ascii = false;
    end++;
  }
  if (ascii) return buf.toString('latin1', off, end);
  const bytes = buf.subarray(off, end);
  return isUtf8(bytes) ? bytes.toString('utf8') : utf8OrHex(bytes);
}

/**
 * cString() of one field, remembering the last bytes and their string: a storm's events name the
 * same interface and qdisc one after another, and comparing a few bytes costs less than making
 * the string again (a call into C++ and an allocation, per field and event).
 */
export class CStringField {
  private readonly last: Uint8Array;
  private lastLen = -1;
  private text = '';

  constructor(private readonly len: number) {
    this.last = new Uint8Array(len);
  }

  of(buf: Buffer, off: number): string {
    const last = this.last;
    const max = this.len;
    let n = 0;
    while (n < max) {
      const b = buf[off + n] as number;
      if (b === 0) break;
      if (n >= this.lastLen || b !== last[n]) return this.miss(buf, off);
      n++;
    }
    return n === this.lastLen ? this.text : this.miss(buf, off);
  }

  private miss(buf: Buffer, off: number): string {
    let n = 0;
    while (n < this.len && buf[off + n] !== 0) {
      this.last[n] = buf[off + n] as number;
      n++;
    }
    this.lastLen = n;
    this.text = cString(buf, off, this.len);
    return this.text;
  }
}

/** Valid UTF-8 sequences decoded, every other byte as `\xNN`. */
function utf8OrHex(bytes: Buffer): string {
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    const n = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (n > 0 && i + n <= bytes.length && isUtf8(bytes.subarray(i, i + n))) {
      out += bytes.toString('utf8', i, i + n);
      i += n;
    } else {
      out += `\\x${b.toString(16).padStart(2, '0')}`;
      i++;
    }
  }
  return out;
}

/**
 * CLOCK_MONOTONIC nanoseconds (as two 32-bit halves) to RFC 3339 UTC with nanoseconds. The
 * "YYYY-MM-DDTHH:MM:SS" part is cached per second: a storm shares it across thousands of events.
 */
export class WallClock {
  private cachedSec = -1;
  private cachedPrefix = '';
  /** "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" of the last second formatted: each event writes its digits. */
  private readonly text = Buffer.alloc(30);
  private textSec = -1;

  constructor(
    private readonly offsetSec: number,
    private readonly offsetNsec: number,
  ) {}

  format(hi: number, lo: number): string {
    // exact below 2^53 ns (104 days of uptime); past that, off by a few ns at most
    const mono = hi * 4294967296 + lo;
    let sec = Math.floor(mono / 1e9);
    let nsec = mono - sec * 1e9 + this.offsetNsec;
    sec += this.offsetSec;
    if (nsec >= 1e9) {
      nsec -= 1e9;
      sec += 1;
    }
    if (sec !== this.textSec) {
      const prefix = this.prefix(sec);
      // past year 9999 the prefix is longer than the buffer's: rare enough for a template
      if (prefix.length !== 19) return `${prefix}.${String(nsec).padStart(9, '0')}Z`;
      this.text.write(`${prefix}.000000000Z`, 0, 'latin1');
      this.textSec = sec;
    }
    // the string made from bytes is flat: a template's would be a rope of four, which every
    // reader of it (the NDJSON writer first) flattens again
    const text = this.text;
    for (let i = 28; i >= 20; i--) {
      const q = Math.floor(nsec / 10);
      text[i] = 48 + nsec - q * 10;
      nsec = q;
    }
    return text.toString('latin1', 0, 30);
  }

  /** A time this clock formatted, back on the kernel's monotonic clock (CLOCK_MONOTONIC), in ms. */
  monotonicMs(time: string): number {
    return Date.parse(time) - this.offsetSec * 1000 - this.offsetNsec / 1e6;
  }

  /** Wall-clock time now, in the same format. */
  now(): string {
    const ms = Date.now();
    const sec = Math.floor(ms / 1000);
    return `${this.prefix(sec)}.${String((ms - sec * 1000) * 1e6).padStart(9, '0')}Z`;
  }

  private prefix(sec: number): string {
    if (sec !== this.cachedSec) {
      this.cachedSec = sec;
      this.cachedPrefix = new Date(sec * 1000).toISOString().slice(0, 19);
    }
    return this.cachedPrefix;
  }
}
