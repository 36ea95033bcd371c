/**
 * The container image: the repository's Dockerfile built against a real Docker engine with its
 * two bases replaced by local stand-ins (no registry is reachable here): debootstrap roots,
 * `docker import`ed, with this machine's node. Then the image, run as the README says, traces a
 * drop made in a neighbouring container named nginx.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { DropRecord, DroptraceRecord } from '../../../src/events.js';
import { DroptraceRun } from '../../helpers/droptrace-cli.js';
import { SKIP_KERNEL } from '../../helpers/kernel-env.js';
import { assertValidRecord } from '../../helpers/schema.js';
import { makeRoot, REPO } from '../install/root.js';
import { netnsInode, udpBurst } from './attribution-lab.js';
import { DOCKER, DockerEngine, type RunningContainer } from './engine.js';

const TAG = 'dtpk-droptrace:test';
const BUILD_BASE = 'dtpk-build-base:local';
const RUNTIME_BASE = 'dtpk-runtime-base:local';
const TRACER = 'dtpk-tracer';
/** Nothing listens there in the nginx container: UDP to it is a NO_SOCKET drop in its netns. */
const CLOSED_PORT = 9;

/**
 * The `docker run` options README.md gives for an incident: CAP_SYS_ADMIN (bpf() and
 * perf_event_open() past Docker's default seccomp profile, setns into containers' namespaces) and
 * CAP_NET_ADMIN (reading their iptables and nft rules), CAP_SYSLOG (kernel addresses in
 * /proc/kallsyms, for locations; without it they read as zero); the host's pid namespace (its /proc, so a
 * container's netns can be read and entered) and network (the host side of veths); BTF and tracefs
 * read-only. (`--privileged` needs a daemon that holds every capability; this machine's root lacks
 * CAP_SYS_RESOURCE, so here it is refused.)
 */
export const RUN_OPTIONS = [
  '--cap-add',
  'SYS_ADMIN',
  '--cap-add',
  'NET_ADMIN',
  '--cap-add',
  'SYSLOG',
  '--pid=host',
  '--network=host',
  '-v',
  '/sys/kernel/btf:/sys/kernel/btf:ro',
  '-v',
  '/sys/kernel/tracing:/sys/kernel/tracing:ro',
];

describe.skipIf(SKIP_KERNEL)('the container image', () => {
  let engine: DockerEngine | undefined;
  let work: string;
  let nginx: RunningContainer;
  let tracer: DroptraceRun | undefined;

  beforeAll(async () => {
    work = mkdtempSync('/var/tmp/dtpk-image-');
    const t0 = performance.now();
    const roots = { [BUILD_BASE]: makeRoot(work, 'toolchain'), [RUNTIME_BASE]: makeRoot(work, 'node') };
    const t1 = performance.now();
    engine = await DockerEngine.start();
    for (const [name, root] of Object.entries(roots)) {
      const r = spawnSync('sh', ['-c', `tar -C "$0" -c . | "$1" import - "$2"`, root, DOCKER, name], {
        env: engine.env,
        encoding: 'utf8',
        timeout: 300_000,
      });
      if (r.status !== 0) throw new Error(`docker import ${name}: ${r.stderr}`);
      rmSync(root, { recursive: true, force: true });
    }
    const t2 = performance.now();
    // the legacy builder (no BuildKit here); the host's network for apt and npm in the build
    const build = engine.docker(
      [
        'build',
        '--network',
        'host',
        '--build-arg',
        `BUILD_BASE=${BUILD_BASE}`,
        '--build-arg',
        `RUNTIME_BASE=${RUNTIME_BASE}`,
        '-t',
        TAG,
        REPO,
      ],
      { timeoutMs: 900_000, env: { DOCKER_BUILDKIT: '0' }, allowFail: true },
    );
    if (build.code !== 0)
      throw new Error(`docker build failed (${build.code}):\n${build.stdout.slice(-6000)}\n${build.stderr.slice(-2000)}`);
    const t3 = performance.now();
    console.error(
      build.stdout
        .split('\n')
        .filter((l) => /^Step |build-prebuild:|droptrace-.*\.tgz|Successfully/.test(l))
        .join('\n'),
    );
    console.error(
      `stand-in roots ${((t1 - t0) / 1000).toFixed(1)} s, engine + imports ${((t2 - t1) / 1000).toFixed(1)} s, ` +
        `docker build ${((t3 - t2) / 1000).toFixed(1)} s`,
    );
    nginx = engine.runContainer('nginx');
  }, 1_200_000);

  afterAll(async () => {
    tracer?.kill();
    engine?.docker(['rm', '-f', TRACER], { allowFail: true });
    const problems = (await engine?.teardown()) ?? [];
    if (work) rmSync(work, { recursive: true, force: true });
    expect(problems).toEqual([]);
  });

  test('the runtime image has droptrace and no compiler', () => {
    const size = Number(engine!.docker(['image', 'inspect', '--format', '{{.Size}}', TAG]).stdout.trim());
    const base = Number(engine!.docker(['image', 'inspect', '--format', '{{.Size}}', RUNTIME_BASE]).stdout.trim());
    const layers = engine!.docker(['history', '--format', '{{.Size}}\t{{.CreatedBy}}', TAG]).stdout;
    console.error(`image ${TAG}: ${(size / 1e6).toFixed(1)} MB (its base ${(base / 1e6).toFixed(1)} MB)\n${layers.slice(0, 1500)}`);
    const probe = engine!.docker([
      'run',
      '--rm',
      '--entrypoint',
      '/bin/sh',
      TAG,
      '-c',
      'for p in gcc g++ cc c++ make clang clang-16 cmake python3 bpftool; do command -v $p; done; droptrace --version',
    ]);
    expect(probe.stdout.trim().split('\n')).toEqual([
      JSON.parse(engine!.docker(['run', '--rm', '--entrypoint', 'cat', TAG, '/usr/local/lib/node_modules/droptrace/package.json']).stdout)
        .version,
    ]);
  });

  test('droptrace --container nginx --json in the image reports a drop made in the nginx container', async () => {
    const sock = engine!.socketPath;
    const argv = [
      DOCKER,
      'run',
      '--rm',
      '--name',
      TRACER,
      ...RUN_OPTIONS,
      '-v',
      `${sock}:/var/run/docker.sock:ro`,
      TAG,
      '--container',
      'nginx',
      '--json',
    ];
    const t0 = performance.now();
    tracer = await DroptraceRun.startCommand(argv, 60_000, engine!.env);
    console.error(`docker run to start record ${(performance.now() - t0).toFixed(0)} ms`);
    const ns = netnsInode(nginx.pid);
    const ip = engine!.docker(['inspect', '--format', '{{.NetworkSettings.IPAddress}}', 'nginx']).stdout.trim();
    const isOurs = (r: DroptraceRecord): r is DropRecord => r.type === 'drop' && r.netns === ns && r.dport === CLOSED_PORT;
    const deadline = Date.now() + 15_000;
    let hit: DropRecord | undefined;
    while (!hit && Date.now() < deadline) {
      udpBurst(nginx.pid, ip, CLOSED_PORT);
      hit = await tracer.waitFor(isOurs, 1500).catch(() => undefined);
    }
    expect(await tracer.stop()).toBe(0);
    const records = tracer.records();
    for (const r of records) assertValidRecord(r);
    expect(records[0].type).toBe('start');
    console.error(`${records.length} records; the first of ours:\n${JSON.stringify(records.find(isOurs))}`);
    expect(records.find(isOurs)).toMatchObject({
      reason: 'NO_SOCKET',
      location: expect.stringMatching(/^__udp4_lib_rcv\+0x[0-9a-f]+$/),
      proto: 'udp',
      daddr: ip,
      container: { name: 'nginx', id: nginx.id, runtime: 'docker' },
      container_via: 'netns',
    });
    expect(records.at(-1)?.type).toBe('stop');
  });
});
