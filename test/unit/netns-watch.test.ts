/** NetnsWatch: a named namespace whose name is gone and that no process is in is reported once. */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NetnsWatch, type WatchedNetns } from '../../src/kernel/netns-watch.js';

describe('NetnsWatch', () => {
  it('reports a namespace once its name is gone and no process holds it, then forgets it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dthx-watch-'));
    try {
      // a stand-in for /run/netns/<name>: a file whose inode no process's netns has
      const path = join(dir, 'rel-x');
      writeFileSync(path, '');
      const ns: WatchedNetns = { inode: statSync(path).ino, name: 'rel-x', path };
      const gone: WatchedNetns[] = [];
      const watch = new NetnsWatch([ns], (g) => gone.push(g));
      watch.check();
      expect(gone).toEqual([]);
      expect(watch.inodes()).toEqual([ns.inode]);
      rmSync(path);
      watch.check();
      watch.check();
      expect(gone).toEqual([ns]);
      expect(watch.inodes()).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps a namespace that lost its name while a process is still in it', () => {
    const own = statSync('/proc/self/ns/net').ino;
    const gone: WatchedNetns[] = [];
    const watch = new NetnsWatch([{ inode: own, name: 'was-named', path: '/nonexistent/rel-x' }], (g) => gone.push(g));
    watch.check();
    expect(gone).toEqual([]);
  });
});
