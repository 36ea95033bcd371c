/** What classification's context is read from: rulesets, conntrack, commands run inside a namespace. */
export { ConntrackEvidence, type ConntrackStats, readConntrackStats } from './conntrack-evidence.js';
export { type NetfilterRuleHit, NetfilterRules, type RuleCounter, readRuleset } from './netfilter-rules.js';
export { type NetnsRunner, nsenterRunner } from './netns-exec.js';
