/**
 * The directory droptrace's package.json is in: the root of the checkout or of the installed
 * package. Found by walking up from this module rather than by a fixed `../..`, because the same
 * code runs from dist/<dir>/*.js (the library, the tests) and from the bin's bundle, dist/droptrace.mjs,
 * one directory higher.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(from: string): string {
  for (let dir = from; ; ) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`droptrace: no package.json above ${from}`);
    dir = up;
  }
}

export const packageRoot = findRoot(dirname(fileURLToPath(import.meta.url)));
