/**
 * The package as a user on a production node gets it: `npm pack` of a clean clone, installed
 * with no registry into a minimal Debian root that has Node and nothing else (no compiler, no
 * make, no python, no libbpf), then run there against this machine's kernel on drops the test
 * makes in its own namespaces.
 */
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { DropRecord, DroptraceRecord } from '../../../src/events.js';
import { DroptraceRun } from '../../helpers/droptrace-cli.js';
import { SKIP_KERNEL } from '../../helpers/kernel-env.js';
import { assertValidRecord } from '../../helpers/schema.js';
import { Lab } from '../lab/netns.js';
import { traffic } from '../lab/traffic.js';
import { inRoot, librariesIn, makeRoot, packFromClone, programsIn, ROOT_ENV, runInRoot } from './root.js';

const INSTALLED = '/usr/local/lib/node_modules/droptrace';
const ADDON = `${INSTALLED}/prebuilds/linux-x64/droptrace.napi.node`;

describe.skipIf(SKIP_KERNEL)('installed from the tarball on a machine with Node and nothing else', () => {
  let work: string;
  let root: string;
  let pack: ReturnType<typeof packFromClone>;
  let lab: Lab | undefined;
  let run: DroptraceRun | undefined;

  beforeAll(() => {
    work = mkdtempSync('/var/tmp/dtpk-install-');
    const t0 = performance.now();
    pack = packFromClone(work);
    const t1 = performance.now();
    root = makeRoot(work, 'node');
    const t2 = performance.now();
    console.error(
      `pack from a clean clone ${((t1 - t0) / 1000).toFixed(1)} s (${pack.bytes} bytes, ${pack.files.length} files); ` +
        `minimal root ${((t2 - t1) / 1000).toFixed(1)} s`,
    );
  }, 600_000);

  afterAll(async () => {
    run?.kill();
    await lab?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('the tarball holds dist/, the CO-RE object, the schema, the prebuilt addon and its bundled dependencies', () => {
    for (const f of [
      'bin/droptrace.js',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/cli/main.js',
      'dist/bin/droptrace.mjs',
      'bpf/.output/droptrace.bpf.o',
      'schema/droptrace-event.schema.json',
      'prebuilds/linux-x64/droptrace.napi.node',
      'node_modules/commander/package.json',
      'package.json',
      'README.md',
    ]) {
      expect(pack.files).toContain(f);
    }
    // nothing of the developer's build: sources, build trees, tests (bundled packages ship as published)
    const own = pack.files.filter((f) => !f.startsWith('node_modules/'));
    expect(own.filter((f) => /^(src|native|test|bench|build)\/|\.map$/.test(f))).toEqual([]);
    for (const dep of ['@grpc/grpc-js', '@grpc/proto-loader', 'prom-client'])
      expect(pack.files).toContain(`node_modules/${dep}/package.json`);
    expect(pack.files).toContain('proto/cri-runtime-v1.proto');
  });

  test('the root has Node and no compiler, make, python, cmake or libbpf', () => {
    expect(runInRoot(root, ['node', '--version']).trim()).toBe(process.version);
    expect(programsIn(root, ['gcc', 'g++', 'cc', 'c++', 'make', 'python3', 'clang', 'clang-16', 'cmake', 'pkg-config'])).toEqual([]);
    expect(librariesIn(root, ['libbpf', 'libelf'])).toEqual([]);
  });

  test('npm installs the tarball with no network at all', () => {
    copyFileSync(pack.tarball, join(root, 'tmp', basename(pack.tarball)));
    const out = runInRoot(root, ['npm', 'install', '--global', '--offline', '--no-audit', '--no-fund', `/tmp/${basename(pack.tarball)}`], {
      net: false,
    });
    expect(out).toMatch(/added 1 package/);
    expect(runInRoot(root, ['droptrace', '--version']).trim()).toBe(
      JSON.parse(runInRoot(root, ['cat', `${INSTALLED}/package.json`])).version,
    );
  });

  test('the installed package exports the library and the schema', () => {
    const probe = [
      "const m = await import('droptrace');",
      "const schema = import.meta.resolve('droptrace/schema/droptrace-event.schema.json');",
      'console.log(typeof m.trace, schema);',
    ].join(' ');
    const out = runInRoot(root, ['sh', '-c', 'cd /usr/local/lib && exec node --input-type=module -e "$0"', probe]);
    expect(out.trim()).toBe(`function file://${INSTALLED}/schema/droptrace-event.schema.json`);
  });

  test('the installed addon links no libbpf, libelf or zlib', () => {
    const ldd = runInRoot(root, ['ldd', ADDON]);
    console.error(`ldd ${ADDON}\n${ldd}`);
    expect(ldd).not.toMatch(/libbpf|libelf|libz\b|not found/);
    expect(ldd).toMatch(/libc\.so\.6/);
  });

  test('without its addon, the installed droptrace says what to do about it', () => {
    const moved = `${ADDON}.away`;
    runInRoot(root, ['mv', ADDON, moved]);
    try {
      const [cmd, ...args] = inRoot(root, ['droptrace', '--json', '--duration', '1']);
      const r = spawnSync(cmd, args, { env: ROOT_ENV, encoding: 'utf8', timeout: 30_000 });
      expect(r.status).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain('ERR_DROPTRACE_ADDON_MISSING');
      expect(r.stderr).toContain('reinstall it from its tarball');
    } finally {
      runInRoot(root, ['mv', moved, ADDON]);
    }
  });

  test('droptrace --json --netns traces the drops made in a namespace', async () => {
    lab = await Lab.create('dtpk');
    const t0 = performance.now();
    run = await DroptraceRun.startCommand(inRoot(root, ['droptrace', '--json', '--netns', lab.b.ns]), 30_000, ROOT_ENV);
    console.error(`installed droptrace: exec to start record ${(performance.now() - t0).toFixed(0)} ms`);
    const dport = randomInt(20000, 40000);
    const sent = await traffic(lab, 'a', [
      'udp-send',
      '--dst',
      lab.b.ipv4,
      '--dport',
      String(dport),
      '--count',
      '5',
      '--interval-ms',
      '10',
    ]);
    const isOurs = (r: DroptraceRecord): r is DropRecord => r.type === 'drop' && r.dport === dport && r.sport === sent.sport;
    await run.waitFor(isOurs, 15_000);
    expect(await run.stop()).toBe(0);
    const records = run.records();
    for (const r of records) assertValidRecord(r);
    const start = records[0];
    expect(start.type).toBe('start');
    const ours = records.filter(isOurs);
    expect(ours.length).toBeGreaterThanOrEqual(1);
    console.error(`${records.length} records; the first of ours:\n${JSON.stringify(ours[0])}`);
    for (const d of ours) {
      expect(d).toMatchObject({
        reason: 'NO_SOCKET',
        location: expect.stringMatching(/^__udp4_lib_rcv\+0x[0-9a-f]+$/),
        proto: 'udp',
        direction: 'rx',
        saddr: lab.a.ipv4,
        daddr: lab.b.ipv4,
        netns: lab.b.inode,
      });
    }
    // the filter held in the kernel: only the lab's receiving namespace
    expect(records.filter((r) => r.type === 'drop' && r.netns !== lab!.b.inode)).toEqual([]);
    expect(records.at(-1)?.type).toBe('stop');
  });
});
