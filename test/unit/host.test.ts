import { describe, expect, it } from 'vitest';
import { resolveHostName } from '../../src/host.js';

describe('the host name in every record', () => {
  it.each([
    [{}, 'vm', 'vm'],
    [{ DROPTRACE_HOST: 'node-7' }, 'droptrace-pod-x1', 'node-7'],
    [{ DROPTRACE_HOST: '  ' }, 'vm', 'vm'],
    [{}, '', 'localhost'],
  ])('%j with hostname %j → %s', (env, kernel, want) => {
    expect(resolveHostName(env, kernel)).toBe(want);
  });
});
