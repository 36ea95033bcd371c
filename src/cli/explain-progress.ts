/**
 * What `explain` has seen so far, on one terminal line redrawn each second: the time left, the
 * drops that matter and the biggest finding yet. Only on a terminal; cut to its width.
 */
import type { FindingsBuilder } from '../explain/findings.js';

export function progressLine(builder: FindingsBuilder, elapsed: number, duration: number): string {
  const { findings } = builder.result();
  const real = findings.filter((f) => !f.benign);
  const drops = real.reduce((n, f) => n + f.count, 0);
  const top = real[0];
  const left = Math.max(0, Math.ceil(duration - elapsed));
  const lead = top ? `; most: ${top.where} ${top.layer}/${top.component} ${top.reason} ×${top.count}` : '';
  return `droptrace explain: ${left} s left of ${duration} s; ${drops} drop${drops === 1 ? '' : 's'} that matter${lead}`;
}

/** Redraws the line every second until stopped; the line is cleared when it stops. */
export function showProgress(err: NodeJS.WritableStream, builder: FindingsBuilder, duration: number): () => void {
  const tty = err as NodeJS.WriteStream;
  if (!tty.isTTY) return () => {};
  const started = Date.now();
  const draw = () => {
    const line = progressLine(builder, (Date.now() - started) / 1000, duration);
    err.write(`\r${line.slice(0, Math.max(1, (tty.columns || 80) - 1))}\x1b[K`);
  };
  draw();
  const timer = setInterval(draw, 1000);
  return () => {
    clearInterval(timer);
    err.write('\r\x1b[K');
  };
}
