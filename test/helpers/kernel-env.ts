/**
 * Kernel tests need root and this kernel's tracepoints. Outside CI a machine without them skips
 * these files visibly; under CI=true they run anyway and fail, never skip.
 */
export const IS_ROOT = process.getuid?.() === 0;
export const IN_CI = process.env.CI === 'true' || process.env.CI === '1';
/** Use as `describe.skipIf(SKIP_KERNEL)`: false in CI whatever the machine. */
export const SKIP_KERNEL = !IS_ROOT && !IN_CI;
