/** droptrace as a library: trace(), the record types, and the error class. */
export { trace, Trace, type TraceOptions, type TraceRecord } from './trace.js';
export type { TraceFilter } from './filter.js';
export type { DropCount, SessionStats } from './session.js';
export * from './events.js';
export { DroptraceError, isDroptraceError } from './errors.js';
