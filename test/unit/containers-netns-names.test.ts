import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { listNetnsNames, resolveNetns } from '../../src/containers/netns-names.js';

describe('--netns resolution', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dtctr-netns-'));
  // A name whose mount never happened: an empty file, not a namespace.
  writeFileSync(join(dir, 'broken'), '');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const own = statSync('/proc/self/ns/net').ino;

  test.each<[string, string | number, { inode: number; name: string | null; path: string | null }]>([
    ['a namespace file path', '/proc/self/ns/net', { inode: own, name: null, path: '/proc/self/ns/net' }],
    ['an inode as text', String(own), { inode: own, name: null, path: null }],
    ['an inode as number', own, { inode: own, name: null, path: null }],
  ])('%s', (_what, spec, want) => {
    expect(resolveNetns(spec, dir)).toEqual(want);
  });

  test.each([
    ['an unknown name, listing the named ones', 'nope', /no network namespace "nope"; named ones: none/],
    ['a file that is not a namespace', join(dir, 'broken'), /no network namespace ".*broken"/],
    ['zero', '0', /no network namespace has inode 0/],
    // an inode no namespace has loads a filter that never matches: refused, never traced silently
    ['an inode no namespace has', '123', /no network namespace has inode 123/],
    ['a number written otherwise', ' 123', /no network namespace " 123"/],
  ])('%s', (_what, spec, message) => {
    expect(() => resolveNetns(spec, dir)).toThrow(
      expect.objectContaining({ code: 'ERR_DROPTRACE_NETNS_UNKNOWN', message: expect.stringMatching(message) }),
    );
  });

  test.each(['/proc/self/ns/mnt', '/proc/self/ns/pid', '/proc/self/ns/uts'])('%s is a namespace of another kind: refused', (path) => {
    expect(() => resolveNetns(path, dir)).toThrow(
      expect.objectContaining({ code: 'ERR_DROPTRACE_NETNS_TYPE', message: expect.stringMatching(/not a network namespace/) }),
    );
  });

  test('files that are not namespaces are not listed', () => {
    expect(listNetnsNames(dir)).toEqual([]);
    expect(listNetnsNames(join(dir, 'absent'))).toEqual([]);
  });
});
