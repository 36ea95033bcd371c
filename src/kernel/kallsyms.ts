/**
 * Kernel text addresses to `function+0xoff`. The addon parses /proc/kallsyms (once, on the first
 * address, natively: as JS objects the table cost 130 ms and 50 MB); each address is then cached
 * here, and a drop storm has only a handful.
 */
import { loadAddon } from '../native/addon.js';

export class Kallsyms {
  private readonly cache = new Map<number, Map<number, string>>();
  // the previous address: a storm's events come from one drop site after another
  private lastHi = -1;
  private lastLo = -1;
  private lastName = '';

  constructor(private readonly path = '/proc/kallsyms') {}

  /** The address as two 32-bit halves, as decoded from the event: no BigInt on the hot path. */
  symbolize(hi: number, lo: number): string {
    if (hi === this.lastHi && lo === this.lastLo) return this.lastName;
    let byLo = this.cache.get(hi);
    if (!byLo) {
      byLo = new Map();
      this.cache.set(hi, byLo);
    }
    let name = byLo.get(lo);
    if (name === undefined) {
      name = loadAddon().kallsymsLookup(this.path, hi, lo) ?? `0x${hi.toString(16).padStart(8, '0')}${lo.toString(16).padStart(8, '0')}`;
      byLo.set(lo, name);
    }
    this.lastHi = hi;
    this.lastLo = lo;
    this.lastName = name;
    return name;
  }

  /** Loads the table now (right after attaching), so that the first drop does not wait for it. */
  warm(): void {
    this.symbolize(0, 0);
  }

  lookup(addr: bigint): string {
    return this.symbolize(Number(addr >> 32n), Number(addr & 0xffffffffn));
  }
}
