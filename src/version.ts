/** droptrace's own version, from the package it runs from. */
import { readFileSync } from 'node:fs';

let version: string | undefined;

export function droptraceVersion(): string {
  version ??= (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return version;
}
