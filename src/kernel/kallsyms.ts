/**
 * Kernel text addresses to `function+0xoff`, from /proc/kallsyms. The table is read once, on the
 * first address that needs it; each address is then cached, and a drop storm has only a handful.
 */
import { readFileSync } from 'node:fs';

interface SymbolTable {
  addrs: BigUint64Array;
  names: string[];
}

export class Kallsyms {
  private table: SymbolTable | undefined;
  private readonly cache = new Map<number, Map<number, string>>();

  constructor(private readonly path = '/proc/kallsyms') {}

  /** The address as two 32-bit halves, as decoded from the event: no BigInt on the hot path. */
  symbolize(hi: number, lo: number): string {
    let byLo = this.cache.get(hi);
    if (!byLo) {
      byLo = new Map();
      this.cache.set(hi, byLo);
    }
    let name = byLo.get(lo);
    if (name === undefined) {
      name = this.lookup((BigInt(hi) << 32n) | BigInt(lo));
      byLo.set(lo, name);
    }
    return name;
  }

  lookup(addr: bigint): string {
    const { addrs, names } = this.load();
    let low = 0;
    let high = addrs.length - 1;
    if (high < 0 || addr < addrs[0]) return `0x${addr.toString(16)}`;
    while (low < high) {
      const mid = (low + high + 1) >>> 1;
      if (addrs[mid] <= addr) low = mid;
      else high = mid - 1;
    }
    return `${names[low]}+0x${(addr - addrs[low]).toString(16)}`;
  }

  private load(): SymbolTable {
    if (this.table) return this.table;
    let text = '';
    try {
      text = readFileSync(this.path, 'latin1');
    } catch {
      // unreadable: every address stays hexadecimal
    }
    const rows: [bigint, string][] = [];
    let start = 0;
    while (start < text.length) {
      let end = text.indexOf('\n', start);
      if (end < 0) end = text.length;
      // "ffffffff81000000 T _stext [module]": text symbols only; zero addresses mean we may not see them
      const type = text.charCodeAt(start + 17);
      if ((type === 0x74 || type === 0x54) && text.charCodeAt(start + 16) === 0x20) {
        const addr = BigInt(`0x${text.slice(start, start + 16)}`);
        if (addr !== 0n) {
          const nameEnd = text.indexOf(' ', start + 19);
          rows.push([addr, text.slice(start + 19, nameEnd < 0 || nameEnd > end ? end : nameEnd).replace(/\t.*/, '')]);
        }
      }
      start = end + 1;
    }
    rows.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    this.table = { addrs: BigUint64Array.from(rows.map((r) => r[0])), names: rows.map((r) => r[1]) };
    return this.table;
  }
}
