/**
 * One text form per address so that the API's strings, procfs's hex and the decoder's output
 * meet in one map: IPv4 dotted quad; IPv6 compressed lower-case (RFC 5952, as WHATWG URL
 * prints it); IPv4-mapped IPv6 becomes the IPv4 address it carries.
 */
export function normalizeAddress(addr: string): string | null {
  const a = addr.trim();
  if (a === '') return null;
  if (!a.includes(':')) return /^\d{1,3}(\.\d{1,3}){3}$/.test(a) ? a : null;
  let host: string;
  try {
    host = new URL(`http://[${a.replace(/%.*$/, '')}]/`).hostname;
  } catch {
    return null;
  }
  const v6 = host.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(v6);
  if (mapped) {
    const hi = Number.parseInt(mapped[1], 16);
    const lo = Number.parseInt(mapped[2], 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return v6;
}

/** Addresses that say nothing about which container a packet belongs to. */
export function isAttributable(addr: string): boolean {
  if (addr.startsWith('127.') || addr === '0.0.0.0') return false;
  if (addr === '::1' || addr === '::') return false;
  if (/^fe[89ab][0-9a-f]:/.test(addr)) return false;
  return true;
}
