/**
 * A traced namespace that goes away, and a new one that gets its inode: the stream says the old
 * one is gone (a `netns_gone` record and a stderr line), and the new one is not traced as the old.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { NetnsGoneRecord } from '../../src/events.js';
import { DroptraceRun } from '../helpers/droptrace-cli.js';
import { SKIP_KERNEL } from '../helpers/kernel-env.js';

const id = randomBytes(3).toString('hex');
const OLD = `dthx-${id}-rel-x`;
const NEW = `dthx-${id}-rel-y`;
const made: string[] = [];
let run: DroptraceRun | undefined;

const sh = (...argv: string[]) => execFileSync(argv[0] as string, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

function addNetns(name: string): number {
  sh('ip', 'netns', 'add', name);
  made.push(name);
  sh('ip', '-n', name, 'link', 'set', 'lo', 'up');
  return statSync(`/run/netns/${name}`).ino;
}

/** UDP to a closed port on the namespace's loopback: NO_SOCKET drops in it. */
function dropIn(name: string, port: number): void {
  sh(
    'ip',
    'netns',
    'exec',
    name,
    'python3',
    '-c',
    `import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor i in range(5): s.sendto(b"x",("127.0.0.1",${port}))`,
  );
}

afterEach(() => {
  run?.kill();
  run = undefined;
  for (const ns of made.splice(0)) {
    try {
      sh('ip', 'netns', 'del', ns);
    } catch {}
  }
});

describe.skipIf(SKIP_KERNEL)('a traced namespace goes away', () => {
  it('says so, and does not trace the namespace that gets its inode', async () => {
    const oldInode = addNetns(OLD);
    run = await DroptraceRun.start(['--json', '--netns', OLD]);
    dropIn(OLD, 9001);
    await run.waitFor((r) => r.type === 'drop' && r.dport === 9001 && r.netns === oldInode);

    sh('ip', 'netns', 'del', OLD);
    made.splice(made.indexOf(OLD), 1);
    const newInode = addNetns(NEW);
    const gone = (await run.waitFor((r) => r.type === 'netns_gone', 5000)) as NetnsGoneRecord;
    expect(gone).toMatchObject({ type: 'netns_gone', netns: oldInode, name: OLD });
    expect(run.stderr).toMatch(new RegExp(`netns ${OLD} \\(${oldInode}\\) is gone`));

    // drops in the new namespace (with the old inode, as the kernel usually hands it out) are not streamed
    for (let i = 0; i < 5; i++) {
      dropIn(NEW, 9002);
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 500));
    expect(await run.stop()).toBe(0);
    const drops = run.drops().filter((d) => d.dport === 9002);
    expect(drops, `the new namespace has inode ${newInode}, the old had ${oldInode}`).toEqual([]);
  });
});
