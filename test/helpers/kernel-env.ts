/**
 * Whether kernel tests run: the one decision every e2e file uses. They need root (and some need a
 * tool such as bpftrace). Outside CI a machine without them skips those files visibly; under
 * CI=true they always run, so a missing requirement fails them instead of skipping.
 */
import { spawnSync } from 'node:child_process';

export const IS_ROOT = process.getuid?.() === 0;
export const IN_CI = process.env.CI === 'true' || process.env.CI === '1';

/** Use as `describe.skipIf(skipKernelTests({ bpftrace: true }))`: false in CI whatever the machine. */
export function skipKernelTests(needs: { bpftrace?: boolean } = {}): boolean {
  if (IN_CI) return false;
  return !IS_ROOT || (needs.bpftrace === true && !HAS_BPFTRACE);
}

export const HAS_BPFTRACE = spawnSync('bpftrace', ['--version']).status === 0;

/** `describe.skipIf(SKIP_KERNEL)` for tests that need root only. */
export const SKIP_KERNEL = skipKernelTests();
