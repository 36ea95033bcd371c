/**
 * commander's parse errors as droptrace errors: a stable ERR_DROPTRACE_* code (commander's own
 * codes are its internals), the message with at most a short escaped excerpt of what was typed,
 * and the hint that points at --help.
 */
import type { CommanderError } from 'commander';
import { DroptraceError } from '../errors.js';
import { excerpt } from '../output/escape.js';

const CODES: Readonly<Record<string, string>> = {
  'commander.unknownOption': 'ERR_DROPTRACE_OPTION_UNKNOWN',
  'commander.unknownCommand': 'ERR_DROPTRACE_VERB_UNKNOWN',
  'commander.missingArgument': 'ERR_DROPTRACE_OPTION_MISSING',
  'commander.optionMissingArgument': 'ERR_DROPTRACE_OPTION_MISSING',
  'commander.missingMandatoryOptionValue': 'ERR_DROPTRACE_OPTION_MISSING',
  'commander.excessArguments': 'ERR_DROPTRACE_OPTION_EXCESS',
  'commander.invalidArgument': 'ERR_DROPTRACE_OPTION_VALUE',
  'commander.conflictingOption': 'ERR_DROPTRACE_OPTION_CONFLICT',
};

/** Help and version are CommanderErrors too, with nothing wrong: undefined for them. */
export function usageError(e: CommanderError): DroptraceError | undefined {
  if (e.exitCode === 0 || e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') {
    return undefined;
  }
  const message = excerpt(e.message.replace(/^error: /, ''), 200);
  return new DroptraceError(CODES[e.code] ?? 'ERR_DROPTRACE_OPTION', message, '`droptrace --help` lists the verbs and options', {
    cause: e,
  });
}
