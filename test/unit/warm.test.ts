import { describe, expect, it } from 'vitest';
import { attachOption } from '../../src/cli/warm.js';

describe('attachOption: which programs the bin may start loading before the CLI parses its options', () => {
  it.each([
    [['--json'], undefined],
    [['--attach', 'tracepoint', '--json'], 'tracepoint'],
    [['top', '--attach=tracepoint'], 'tracepoint'],
    [['--attach', 'tp_btf', '--attach', 'tracepoint'], 'tracepoint'],
    [['--netns', 'x'], undefined],
  ] as const)('%j → %s', (args, mode) => expect(attachOption(args)).toBe(mode));
});
