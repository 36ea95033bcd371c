import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NeighLimits } from '../../src/readers/neigh-limits.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function sysctl(dir: string, family: string, value: string): void {
  mkdirSync(join(dir, 'net', family, 'neigh', 'default'), { recursive: true });
  writeFileSync(join(dir, 'net', family, 'neigh', 'default', 'gc_thresh3'), value);
}

describe('NeighLimits', () => {
  it('reads each family’s gc_thresh3, at most once a second, and nothing where the defaults are absent', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dt-neigh-'));
    dirs.push(dir);
    sysctl(dir, 'ipv4', '1024\n');
    const clock = { t: 0 };
    const limits = new NeighLimits(dir, () => clock.t);
    expect(limits.gcThresh3('ipv4')).toBe(1024);
    expect(limits.gcThresh3('ipv6')).toBeUndefined();
    sysctl(dir, 'ipv4', '4');
    expect(limits.gcThresh3('ipv4')).toBe(1024); // cached
    clock.t += 1000;
    expect(limits.gcThresh3('ipv4')).toBe(4);
    sysctl(dir, 'ipv6', 'junk');
    clock.t += 1000;
    expect(limits.gcThresh3('ipv6')).toBeUndefined();
  });
});
