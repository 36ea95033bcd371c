/**
 * The bytes of NDJSON lines, written in place: slabs that chunks are cut from, and writers of the
 * pieces a line is made of (fragments already encoded, ASCII text, numbers). src/output/ndjson.ts
 * says which pieces a record's line has.
 */

/**
 * Where lines are written: a slab that chunks are cut from, as Node's Buffer pool does. A chunk
 * handed out is never written again while its reader may hold it. The stream's writer gives each
 * chunk back once stdout has taken it (releaseBytes); a slab all of whose chunks are back is
 * filled again instead of a new one being allocated, which at this size is an mmap whose every
 * page faults in when first written (a quarter of a page fault per event, in a storm). A chunk
 * never given back (explain, a reader that went away) only keeps its slab from being reused.
 */
const SLAB_BYTES = 1 << 20;
/** Slabs kept for reuse: a writer behind by more than this many has its later slabs freed by GC instead. */
const SPARE_SLABS = 4;

interface Slab {
  buf: Buffer;
  /** Chunks cut from it and not given back. */
  out: number;
}

const slabs = new WeakMap<ArrayBufferLike, Slab>();
const spare: Slab[] = [];
/** Chunks handed out and not given back: a chunk given back twice counts once. */
const out = new WeakSet<Uint8Array>();

function newSlab(bytes: number): Slab {
  const reuse = bytes <= SLAB_BYTES ? spare.pop() : undefined;
  if (reuse) return reuse;
  const slab = { buf: Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, bytes)), out: 0 };
  slabs.set(slab.buf.buffer, slab);
  return slab;
}

/** JSON's null, as bytes. */
export const NULL = Buffer.from('null');

let slab = newSlab(SLAB_BYTES);
let buf = slab.buf;
let pos = 0;
/** Where the chunk being written starts in `buf`. */
let start = 0;

/** Writing goes on in `next`; the slab left is kept for reuse if none of its chunks is out. */
function moveTo(next: Slab): void {
  if (slab.out === 0 && spare.length < SPARE_SLABS && !spare.includes(slab)) spare.push(slab);
  slab = next;
  buf = next.buf;
}

/** Room for `n` more bytes: a full slab's chunk so far moves to another one, large enough for it. */
function room(n: number): void {
  if (pos + n <= buf.length) return;
  const next = newSlab(2 * (pos - start + n));
  buf.copy(next.buf, 0, start, pos);
  pos -= start;
  start = 0;
  moveTo(next);
}

/** A chunk cut() returned is no longer read by anyone; anything else is ignored. */
export function releaseBytes(chunk: Uint8Array): void {
  if (!out.delete(chunk)) return;
  const of = slabs.get(chunk.buffer) as Slab;
  of.out--;
  if (of.out === 0 && of !== slab && spare.length < SPARE_SLABS && !spare.includes(of)) spare.push(of);
}

// The writers below copy `buf` and `pos` into locals: a loop over module variables reloads them
// (and the buffer's length and backing store) on every byte.
export function bytes(b: Buffer): void {
  const n = b.length;
  room(n);
  if (n > 16) buf.set(b, pos);
  else {
    const out = buf;
    const p = pos;
    for (let i = 0; i < n; i++) out[p + i] = b[i] as number;
  }
  pos += n;
}

/** Text made of ASCII only (times, addresses, digits): one byte per character. */
function ascii(v: string): void {
  const n = v.length;
  room(n);
  const out = buf;
  const p = pos;
  for (let i = 0; i < n; i++) out[p + i] = v.charCodeAt(i);
  pos = p + n;
}

/** A string made by the decoder from digits, hex and separators (decode/format.ts): nothing to escape. */
export function plain(v: string | null): void {
  if (v === null) {
    bytes(NULL);
    return;
  }
  const n = v.length;
  room(n + 2);
  const out = buf;
  const p = pos;
  out[p] = 0x22;
  for (let i = 0; i < n; i++) out[p + 1 + i] = v.charCodeAt(i);
  out[p + 1 + n] = 0x22;
  pos = p + n + 2;
}

/** A number as JSON.stringify writes it; integers below 2^32 digit by digit. */
export function num(v: number | null): void {
  if (v === null) {
    bytes(NULL);
    return;
  }
  if (!(v >= 0 && v <= 0xffffffff && Math.floor(v) === v)) {
    ascii(Number.isFinite(v) ? String(v) : 'null');
    return;
  }
  const width =
    v < 10 ? 1 : v < 100 ? 2 : v < 1e3 ? 3 : v < 1e4 ? 4 : v < 1e5 ? 5 : v < 1e6 ? 6 : v < 1e7 ? 7 : v < 1e8 ? 8 : v < 1e9 ? 9 : 10;
  room(width);
  const out = buf;
  let p = pos + width;
  pos = p;
  do {
    const q = Math.floor(v / 10);
    out[--p] = 48 + v - q * 10;
    v = q;
  } while (v !== 0);
}

/** One byte (ASCII). */
export function byte(c: number): void {
  room(1);
  buf[pos++] = c;
}

/** Starts a chunk: what is written from now on is the next cut(). */
export function begin(): void {
  start = pos;
}

/** The chunk written since begin(), handed out until releaseBytes() gives it back. */
export function cut(): Buffer {
  const chunk = buf.subarray(start, pos);
  start = pos;
  if (chunk.length > 0) {
    slab.out++;
    out.add(chunk);
  }
  // the slab is full enough: the next chunk starts on a fresh (or reused) one
  if (buf.length - pos < 64 * 1024) {
    moveTo(newSlab(SLAB_BYTES));
    pos = 0;
    start = 0;
  }
  return chunk;
}
