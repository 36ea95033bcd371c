/** droptrace as a library: trace(), the record types, naming helpers, and the error class. */

export { listNetnsNames, type NamedNetns, resolveNetns } from './containers/netns-names.js';
export { DroptraceError, isDroptraceError } from './errors.js';
export * from './events.js';
export type { TraceFilter } from './filter.js';
export type { PipelineOptions } from './pipeline.js';
export type { Selection } from './selection.js';
export type { DropCount, SessionStats } from './session.js';
export { Trace, type TraceOptions, type TraceRecord, trace } from './trace.js';
export { droptraceVersion } from './version.js';
