/** The classify stage: a pure, table-driven function of a drop record and its context. */
export {
  type Classification,
  type ClassifyContext,
  classify,
  describeDrop,
  describeReason,
  locationFunction,
  NO_CONTEXT,
} from './classify.js';
export { REASONS } from './table.js';
