/**
 * A consumer whose callback throws: the exception surfaces (it is not swallowed) and nothing
 * disappears unsaid: every matched event was handed over or is counted lost. Each case runs in a
 * child process, since uncaught exceptions are the point.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { SKIP_KERNEL } from '../helpers/kernel-env.js';
import { Lab } from './lab/netns.js';

const SCRIPT = fileURLToPath(new URL('./fixtures/throwing-sink.mjs', import.meta.url));
let lab: Lab | undefined;

afterEach(async () => {
  await lab?.destroy();
  lab = undefined;
});

function run(mode: 'session' | 'addon', l: Lab): Record<string, number> {
  const r = spawnSync(process.execPath, [SCRIPT, mode, String(l.b.inode), l.a.ns, l.b.ipv4], { encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}');
}

describe.skipIf(SKIP_KERNEL)('a batch callback that throws', () => {
  it('through a session: each exception is thrown again outside the call, no batch is lost to it', async () => {
    lab = await Lab.create('dtsink');
    const r = run('session', lab);
    expect(r.matched).toBeGreaterThanOrEqual(20000);
    expect(r.surfaced).toBeGreaterThan(0);
    expect(r.delivered + r.lost).toBe(r.matched);
    expect(r.lostReported).toBe(r.lost);
  });

  it('at the addon: the batches queued behind the throw are counted as lost by the consumer', async () => {
    lab = await Lab.create('dtsink');
    const r = run('addon', lab);
    expect(r.matched).toBeGreaterThanOrEqual(20000);
    // the event loop was blocked during the burst, so one doorbell call held several batches
    expect(r.userLost).toBeGreaterThan(0);
    expect(r.delivered + r.userLost + r.lost).toBe(r.matched);
  });
});
