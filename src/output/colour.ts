/**
 * Colour on a terminal only, as the user's environment asks: FORCE_COLOR forces it on (or off with
 * 0/false), NO_COLOR turns it off, and otherwise it is on for a TTY whose terminal has colours
 * (Node's own `hasColors()`: TERM=dumb has none). Styles come from Node's `util.styleText`.
 */
import { styleText } from 'node:util';

type Style = Parameters<typeof styleText>[0];

export function colourWanted(out: NodeJS.WritableStream, env: NodeJS.ProcessEnv = process.env): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force.toLowerCase() !== 'false';
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  const tty = out as NodeJS.WriteStream;
  return Boolean(tty.isTTY) && typeof tty.hasColors === 'function' && tty.hasColors();
}

/** Paints `text` when colour is on; callers pad the plain text, so columns stay aligned. */
export function paint(on: boolean, style: Style, text: string): string {
  // whether to colour is decided above, for the stream written to (styleText would ask process.stdout)
  return on && text !== '' ? styleText(style, text, { validateStream: false }) : text;
}
