/**
 * `droptrace check -- <command>`: the exit status a regression test reads. Real programs, real
 * drops in a namespace this test creates.
 */
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN } from '../helpers/droptrace-cli.js';
import { SKIP_KERNEL } from '../helpers/kernel-env.js';
import { assertValidRecord } from '../helpers/schema.js';
import { Lab, PYTHON } from './lab/netns.js';

let lab: Lab | undefined;
afterEach(async () => {
  await lab?.destroy();
  lab = undefined;
});

/** A command that sends three UDP datagrams from a to a closed port in b. */
function closedPortCommand(l: Lab): string[] {
  const send = `import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); [s.sendto(b"x", ("${l.b.ipv4}", 9)) for _ in range(3)]`;
  return ['ip', 'netns', 'exec', l.a.ns, PYTHON, '-c', send];
}

function check(args: string[]) {
  return spawnSync(process.execPath, [BIN, 'check', ...args], { encoding: 'utf8', timeout: 30_000 });
}

describe.skipIf(SKIP_KERNEL)('droptrace check', () => {
  it('exits 3 when the command made drops nobody expected, and says which', async () => {
    lab = await Lab.create('dtcheck');
    const r = check(['--netns', lab.b.ns, '--json', '--', ...closedPortCommand(lab)]);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/exited 0; 3 unexpected drops: unexpected drops/);
    expect(r.stderr).toMatch(/transport\/udp {2}NO_SOCKET {2}×3/);
    const record = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}');
    assertValidRecord(record);
    expect(record).toMatchObject({ type: 'check', status: 0, verdict: 'unexpected drops', unexpected: 3, lost: 0 });
    expect(record.findings[0]).toMatchObject({ reason: 'NO_SOCKET', count: 3, netns: lab.b.inode });
  });

  it.each([
    ['a reason', 'NO_SOCKET'],
    ['a layer', 'transport'],
    ['a layer/component', 'transport/udp'],
  ])('exits 0 when the drops are allowed by %s', async (_what, allow) => {
    lab = await Lab.create('dtcheck');
    const r = check(['--netns', lab.b.ns, '--allow', allow, '--', ...closedPortCommand(lab)]);
    expect(r.stderr).toMatch(/0 unexpected drops: ok/);
    expect(r.status).toBe(0);
  });

  it('tolerates --max drops', async () => {
    lab = await Lab.create('dtcheck');
    expect(check(['--netns', lab.b.ns, '--max', '3', '--', ...closedPortCommand(lab)]).status).toBe(0);
  });

  it("passes the command's own failure through", async () => {
    lab = await Lab.create('dtcheck');
    const r = check(['--netns', lab.b.ns, '--', 'sh', '-c', 'exit 7']);
    expect(r.status).toBe(7);
    expect(r.stderr).toMatch(/exited 7; 0 unexpected drops: command failed/);
  });
});
