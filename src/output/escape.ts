/**
 * Text that reaches a terminal. Interface names, netns names, container names, iptables rule text
 * and engine messages are chosen by whoever is root in a container: printed raw, an ESC or CSI byte
 * in them drives the operator's terminal (colours, cursor moves, window titles, OSC 52 clipboard
 * writes) and a bidi override reorders what is shown. Every human-readable edge passes untrusted
 * text through `escapeTerminal`; NDJSON keeps the exact string (JSON.stringify escapes C0 itself).
 */

/**
 * C0 (U+0000–U+001F), DEL, C1 (U+0080–U+009F), and the Unicode bidi controls: ALM U+061C,
 * LRM/RLM U+200E–U+200F, LRE/RLE/PDF/LRO/RLO U+202A–U+202E, LRI/RLI/FSI/PDI U+2066–U+2069.
 * Also U+2028/U+2029 (line and paragraph separators, which some terminals break lines on).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { '\t': '\\t', '\n': '\\n', '\r': '\\r' };

function visible(ch: string): string {
  const named = NAMED[ch];
  if (named) return named;
  const code = ch.charCodeAt(0);
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** The string with every control character shown as a visible escape (`\x1b`, `\u202e`, `\n`). */
export function escapeTerminal(s: string): string {
  // the common case allocates nothing
  UNSAFE.lastIndex = 0;
  return UNSAFE.test(s) ? s.replace(UNSAFE, visible) : s;
}

/** Multi-line text with every line escaped (the line breaks kept). */
export function escapeLines(text: string): string {
  return text
    .split('\n')
    .map((line) => escapeTerminal(line))
    .join('\n');
}

/** The longest part of a user-given value an error message repeats. */
export const EXCERPT_CHARS = 64;

/**
 * A short, escaped excerpt of a value the user gave, for error messages: a 100 KB argument is not
 * echoed back whole, and what is echoed cannot drive the terminal.
 */
export function excerpt(value: string, max = EXCERPT_CHARS): string {
  const s = String(value);
  if (s.length <= max) return escapeTerminal(s);
  // never split a surrogate pair
  const end = /[\ud800-\udbff]/.test(s[max - 1]) ? max - 1 : max;
  return `${escapeTerminal(s.slice(0, end))}… (${s.length} characters)`;
}

/** At most `max` items of a list for a message, then how many more: a host may have thousands. */
export function shortList(items: readonly string[], max = 8): string {
  return items.length > max ? `${items.slice(0, max).join(', ')} and ${items.length - max} more` : items.join(', ');
}

/** What JSON.stringify leaves raw that a terminal would act on: DEL, C1 and the bidi controls. */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

/**
 * NDJSON text with DEL, C1 and bidi controls written as `\uXXXX` escapes: the same JSON (a parser
 * reads back the exact string), but `droptrace --json` on a terminal cannot drive it either.
 * These characters can only occur inside JSON strings, where `\uXXXX` is always valid.
 */
export function escapeJsonText(json: string): string {
  UNSAFE_IN_JSON.lastIndex = 0;
  return UNSAFE_IN_JSON.test(json) ? json.replace(UNSAFE_IN_JSON, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`) : json;
}
