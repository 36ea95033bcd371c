/** droptrace as a library: trace(), the record types, and the error class. */

export { DroptraceError, isDroptraceError } from './errors.js';
export * from './events.js';
export type { TraceFilter } from './filter.js';
export type { DropCount, SessionStats } from './session.js';
export { Trace, type TraceOptions, type TraceRecord, trace } from './trace.js';
