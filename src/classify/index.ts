/** The classify stage: table-driven layer/component/hint, plus user-space netfilter evidence. */
export { type Classification, type ClassifyInput, classify, describeReason, emptyClassifyInput, locationFunction } from './classify.js';
export { ConntrackEvidence, type ConntrackStats, readConntrackStats } from './conntrack-evidence.js';
export { type NetfilterRuleHit, NetfilterRules, type RuleCounter, readRuleset } from './netfilter-rules.js';
export { type NetnsRunner, nsenterRunner } from './netns-exec.js';
export { REASONS } from './table.js';
