/**
 * The container sources against a real Docker engine: what the Engine API and the procfs scan
 * report is compared with what the kernel says (/proc/<pid>/ns/net, the cgroup2 directory,
 * the addresses inside the container's namespace).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DockerApi } from '../../../src/containers/docker-api.js';
import { DockerSource } from '../../../src/containers/docker-source.js';
import { type ContainerChange, ContainerIndex } from '../../../src/containers/index.js';
import { NetnsNamesSource, resolveNetns } from '../../../src/containers/netns-names.js';
import { cgroup2Mount, hostNetns } from '../../../src/containers/proc.js';
import { ProcfsSource } from '../../../src/containers/procfs-source.js';
import type { ContainerInfo } from '../../../src/containers/types.js';
import { freePort } from './attribution-lab.js';
import { DockerEngine, IMAGE, type RunningContainer } from './engine.js';

const WEB = 'dtctr-web';
const SIDE = 'dtctr-side';

/** What the kernel says about a container's init, independently of src/containers. */
function kernelFacts(pid: number, id: string) {
  const mount = cgroup2Mount();
  if (mount === null) throw new Error('no cgroup2 mount');
  const v4 = execFileSync('nsenter', ['-t', String(pid), '-n', 'ip', '-4', '-o', 'addr', 'show', 'scope', 'global'], {
    encoding: 'utf8',
  });
  return {
    netns: statSync(`/proc/${pid}/ns/net`).ino,
    // dockerd's cgroupfs driver puts every container at /docker/<id> in each hierarchy.
    cgroupId: statSync(join(mount, 'docker', id), { bigint: true }).ino,
    ipv4: [...v4.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\//g)].map((m) => m[1]),
  };
}

function host() {
  return {
    ipForward: readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(),
    forward: execFileSync('iptables', ['-w', '-S', 'FORWARD'], { encoding: 'utf8' }).split('\n')[0],
    docker0: existsSync('/sys/class/net/docker0'),
    chains: execFileSync('iptables-save', { encoding: 'utf8' })
      .split('\n')
      .filter((l) => /DOCKER/.test(l)).length,
  };
}

describe('container sources against a real Docker engine', () => {
  let engine: DockerEngine | undefined;
  let web: RunningContainer;
  let side: RunningContainer;
  const before = host();

  beforeAll(async () => {
    engine = await DockerEngine.start();
    const port = await freePort();
    web = engine.runContainer(WEB, { hostPort: port });
    side = engine.runContainer(SIDE);
    console.error(
      `timings: engine start ${engine.timings.engineStartMs.toFixed(0)} ms, image import ${engine.timings.imageImportMs.toFixed(0)} ms, ` +
        `container start ${web.startMs.toFixed(0)} / ${side.startMs.toFixed(0)} ms`,
    );
  });

  afterAll(async () => {
    const problems = (await engine?.teardown()) ?? [];
    expect(problems).toEqual([]);
    expect(host()).toEqual(before);
  });

  const api = () => new DockerApi({ socketPath: engine!.socketPath });

  test('the Engine API answers ping and lists both containers', async () => {
    await api().ping();
    const names = (await api().listContainers()).flatMap((c) => c.Names ?? []);
    expect(names.sort()).toEqual([`/${SIDE}`, `/${WEB}`]);
    expect(await api().inspect('dtctr-absent')).toBeNull();
  });

  test.each([
    ['docker API', () => new DockerSource(api())],
    ['procfs scan', () => new ProcfsSource()],
  ])('%s: netns, cgroup id and addresses match the kernel', async (source, make) => {
    const list = await make().list();
    for (const c of [web, side]) {
      const got = list.find((x) => x.id === c.id);
      expect(got, `${source} lists ${c.name}`).toBeDefined();
      const k = kernelFacts(c.pid, c.id);
      expect(k.ipv4.length).toBe(1);
      expect(got).toMatchObject({
        id: c.id,
        runtime: 'docker',
        pid: c.pid,
        netns: k.netns,
        cgroupId: k.cgroupId,
        running: true,
      });
      expect(got!.addresses).toContain(k.ipv4[0]);
      expect(got!.name).toBe(source === 'docker API' ? c.name : c.id.slice(0, 12));
      if (source === 'docker API') expect(got!.image).toBe(IMAGE);
    }
    expect(list.filter((x) => x.running && (x.id === web.id || x.id === side.id))).toHaveLength(2);
  });

  test('the index attributes by netns, cgroup, veth peer and address, and resolves names', async () => {
    const index = new ContainerIndex({ sources: [new DockerSource(api()), new ProcfsSource()], pollMs: 0 });
    await index.refresh();
    const w = kernelFacts(web.pid, web.id);
    const s = kernelFacts(side.pid, side.id);
    const h = hostNetns()!;
    const cases: Array<[string, Parameters<ContainerIndex['attribute']>[0], string | null, string | null]> = [
      ['netns', { netns: w.netns, cgroup_id: null, saddr: null, daddr: null }, WEB, 'netns'],
      ['cgroup', { netns: h, cgroup_id: String(s.cgroupId), saddr: null, daddr: null }, SIDE, 'cgroup'],
      ['veth peer', { netns: h, cgroup_id: null, peer: { netns: w.netns }, saddr: null, daddr: null }, WEB, 'veth-peer'],
      ['address', { netns: h, cgroup_id: null, saddr: '127.0.0.1', daddr: w.ipv4[0] }, WEB, 'address'],
      ['host', { netns: h, cgroup_id: null, saddr: '127.0.0.1', daddr: '127.0.0.1' }, null, null],
    ];
    for (const [what, ev, name, via] of cases) {
      const a = index.attribute(ev);
      expect({ what, name: a?.container.name ?? null, via: a?.via ?? null }).toEqual({ what, name, via });
    }
    expect((await index.resolve(WEB)).id).toBe(web.id);
    expect((await index.resolve(side.id.slice(0, 10))).name).toBe(SIDE);
    const err = await index.resolve('dtctr-nope').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_DROPTRACE_CONTAINER_UNKNOWN' });
    expect((err as Error).message).toContain(WEB);
    expect((err as Error).message).toContain(SIDE);
  });

  test('docker restart: the index follows the new incarnation and emits change', async () => {
    const index = new ContainerIndex({ sources: [new DockerSource(api()), new ProcfsSource()], pollMs: 0 });
    await index.start();
    try {
      const oldPid = web.pid;
      expect(index.byNetns(kernelFacts(web.pid, web.id).netns)?.pid).toBe(oldPid);
      const changes: ContainerChange[] = [];
      index.on('change', (c) => changes.push(c));
      const t0 = performance.now();
      engine!.docker(['restart', '-t', '2', WEB]);
      const restartMs = performance.now() - t0;
      web = { ...web, pid: engine!.pidOf(WEB) };
      expect(web.pid).not.toBe(oldPid);
      // A new namespace, but its inode is often the old number: nsfs hands out the lowest free one.
      const newNetns = kernelFacts(web.pid, web.id).netns;
      // The event stream drives the refresh; wait for the change that carries the new incarnation.
      const until = Date.now() + 10_000;
      const seen = (): ContainerInfo | undefined =>
        changes
          .flatMap((c) => [...c.added, ...c.changed.map((x) => x.after)])
          .find((c) => c.id === web.id && c.pid === web.pid && c.netns === newNetns);
      while (!seen() && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      console.error(`docker restart took ${restartMs.toFixed(0)} ms; change events: ${changes.length}`);
      expect(seen()).toBeDefined();
      expect(index.byNetns(newNetns)).toMatchObject({ name: WEB, pid: web.pid });
    } finally {
      index.stop();
    }
  });

  test("a namespace inode reused by a new container never carries the dead one's name", async () => {
    // procfs only: no runtime events, so only the re-check on hit stands between the two.
    const index = new ContainerIndex({ sources: [new ProcfsSource()], pollMs: 0, verifyMs: 0 });
    await index.refresh();
    const tmp = engine!.runContainer('dtctr-brief');
    const netns = statSync(`/proc/${tmp.pid}/ns/net`).ino;
    await index.refresh();
    expect(index.byNetns(netns)?.id).toBe(tmp.id);
    engine!.docker(['rm', '-f', tmp.name]);
    const next = engine!.runContainer('dtctr-next');
    const nextNetns = statSync(`/proc/${next.pid}/ns/net`).ino;
    console.error(`netns of a container started after one was removed: ${nextNetns === netns ? 'same inode' : 'new inode'}`);
    const got = index.byNetns(nextNetns);
    expect(got === null || got.id === next.id).toBe(true);
    await index.refresh();
    expect(index.byNetns(nextNetns)?.id).toBe(next.id);
    engine!.docker(['rm', '-f', next.name]);
  });

  test('with the API socket unreachable, the procfs scan still names the container by id', async () => {
    const gone = new DockerApi({ socketPath: join(engine!.dir, 'no-such.sock'), timeoutMs: 500 });
    const index = new ContainerIndex({ sources: [new DockerSource(gone), new ProcfsSource()], pollMs: 0 });
    const warnings: Error[] = [];
    index.on('warning', (e) => warnings.push(e));
    await index.refresh();
    expect(index.sourceErrors.get('docker')).toMatchObject({ code: 'ERR_DROPTRACE_CONTAINER_API' });
    expect(warnings).toHaveLength(1);
    const netns = statSync(`/proc/${web.pid}/ns/net`).ino;
    const a = index.attribute({ netns, cgroup_id: null, saddr: null, daddr: null });
    expect(a).toMatchObject({ via: 'netns', container: { id: web.id, name: web.id.slice(0, 12), runtime: 'docker' } });
    expect((await index.resolve(web.id.slice(0, 12))).pid).toBe(web.pid);
  });
});

describe('ip netns names', () => {
  const name = `dtctr-ns-${process.pid}`;
  afterAll(() => {
    execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
  });

  test('a named namespace resolves to its inode and attributes by name', async () => {
    execFileSync('ip', ['netns', 'add', name]);
    const inode = statSync(`/run/netns/${name}`).ino;
    expect(resolveNetns(name)).toEqual({ inode, name, path: `/run/netns/${name}` });
    expect(resolveNetns(String(inode)).name).toBe(name);
    const index = new ContainerIndex({ sources: [new NetnsNamesSource()], pollMs: 0, verifyMs: 0 });
    await index.refresh();
    expect(index.attribute({ netns: inode, cgroup_id: null, saddr: null, daddr: null })).toMatchObject({
      via: 'netns',
      container: { name, runtime: 'netns' },
    });
    execFileSync('ip', ['netns', 'del', name]);
    // Unmounted: the check on hit must stop naming it, whatever reuses the inode.
    expect(index.byNetns(inode)).toBeNull();
    execFileSync('ip', ['netns', 'add', name]);
  });
});
