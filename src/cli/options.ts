/**
 * Option parsing shared by the verbs: values are checked here, strictly (decimal digits only: no
 * `0x50`, no `1e3`, no surrounding spaces, which Number() would all accept), each refusal with a
 * stable code and a hint, echoing only a short escaped excerpt of what was given.
 */
import { DroptraceError } from '../errors.js';
import { excerpt } from '../output/escape.js';

/** A value that is not of the option's kind (a word for a number, hex for decimal). */
export const OPTION_VALUE = 'ERR_DROPTRACE_OPTION_VALUE';
/** A number of the right kind outside what the option can hold. */
export const OPTION_RANGE = 'ERR_DROPTRACE_OPTION_RANGE';

/**
 * The longest wait a Node timer holds: setTimeout stores a signed 32-bit count of milliseconds and
 * fires after 1 ms for anything larger (lib/internal/timers.js, TIMEOUT_MAX), so a longer
 * --duration would end at once. 2,147,483 s is 24 days 20 h; beyond it, run without --duration.
 */
export const MAX_TIMER_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

export interface SecondsRange {
  min: number;
  max: number;
}

/** --duration: from a millisecond to what the timer holds. */
export const DURATION_RANGE: SecondsRange = { min: 0.001, max: MAX_TIMER_SECONDS };
/**
 * --interval: a redraw reads every per-CPU counter of the kernel's map, so ten a second is the
 * most worth doing; a day at most.
 */
export const INTERVAL_RANGE: SecondsRange = { min: 0.1, max: 86_400 };

const DECIMAL = /^(?:\d+\.?\d*|\.\d+)$/;
const WHOLE = /^\d+$/;

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function refuse(code: string, what: string, value: string, hint: string): never {
  throw new DroptraceError(code, `${what}: "${excerpt(value)}" ${code === OPTION_RANGE ? 'is out of range' : 'is not valid'}`, hint);
}

/** Seconds as a decimal number within `range`. */
export function seconds(what: string, range: SecondsRange) {
  const hint = `${what} takes seconds, a decimal number from ${range.min} to ${range.max}`;
  return (value: string): number => {
    if (!DECIMAL.test(value)) refuse(OPTION_VALUE, what, value, hint);
    const n = Number(value);
    if (n < range.min || n > range.max) refuse(OPTION_RANGE, what, value, hint);
    return n;
  };
}

function whole(what: string, min: number, hint: string) {
  return (value: string): number => {
    if (!WHOLE.test(value)) refuse(OPTION_VALUE, what, value, hint);
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < min) refuse(OPTION_RANGE, what, value, hint);
    return n;
  };
}

export function positiveInteger(what: string) {
  return whole(what, 1, `${what} takes a whole number, 1 or more, in decimal`);
}

export function nonNegativeInteger(what: string) {
  return whole(what, 0, `${what} takes a whole number, 0 or more, in decimal`);
}

export function port(value: string): number {
  const hint = 'a port is a whole number from 1 to 65535, in decimal';
  if (!WHOLE.test(value)) refuse(OPTION_VALUE, '--port', value, hint);
  const n = Number(value);
  if (n < 1 || n > 65535) refuse(OPTION_RANGE, '--port', value, hint);
  return n;
}

const PROTOS = ['tcp', 'udp', 'icmp', 'icmpv6'];

export function proto(value: string): string {
  const p = value.toLowerCase();
  if (!PROTOS.includes(p)) refuse(OPTION_VALUE, '--proto', value, `use ${PROTOS.join(', ')}`);
  return p;
}
