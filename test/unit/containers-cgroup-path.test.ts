import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { cgroup2MountFromMountinfo, containerFromCgroupFile, containerFromPath } from '../../src/containers/cgroup-path.js';
import { groupByContainer } from '../../src/containers/procfs-source.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/containers/${name}`, import.meta.url), 'utf8');
const ID = '3f4e2a1b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f';
const POD = '6f1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d';

describe('container from /proc/<pid>/cgroup', () => {
  test.each([
    ['cgroup-docker-hybrid.txt', { id: ID, runtime: 'docker' }, `/docker/${ID}`],
    ['cgroup-docker-systemd-v2.txt', { id: ID, runtime: 'docker' }, `/system.slice/docker-${ID}.scope`],
    [
      'cgroup-containerd-k8s-systemd.txt',
      { id: ID, runtime: 'containerd', podUid: POD },
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${POD.replaceAll('-', '_')}.slice/cri-containerd-${ID}.scope`,
    ],
    ['cgroup-crio.txt', { id: ID, runtime: 'cri-o', podUid: POD }, expect.stringContaining(`crio-${ID}.scope`)],
    ['cgroup-podman.txt', { id: ID, runtime: 'podman' }, `/machine.slice/libpod-${ID}.scope/container`],
    ['cgroup-kubepods-cgroupfs-v1.txt', { id: ID, runtime: 'cri', podUid: POD }, null],
    ['cgroup-dind.txt', { id: ID, runtime: 'docker' }, expect.stringMatching(/^\/docker\/a{64}\/docker\//)],
    // Monitors run beside the container, not in it.
    ['cgroup-crio-conmon.txt', null, expect.stringContaining('crio-conmon-')],
    ['cgroup-podman-conmon.txt', null, `/machine.slice/libpod-conmon-${ID}.scope`],
    // A 32-hex segment is not a container id.
    ['cgroup-host-hybrid.txt', null, '/'],
  ])('%s', (file, container, v2Path) => {
    expect(containerFromCgroupFile(fixture(file))).toEqual({ container, v2Path });
  });

  test.each([
    ['/docker/abc', null],
    [`/docker/${ID.toUpperCase()}`, null],
    [`/system.slice/docker-${ID}.scope/init`, { id: ID, runtime: 'docker' }],
    [`/libpod_parent/libpod-${ID}`, { id: ID, runtime: 'podman' }],
    [`/user.slice/${ID}`, null],
    [`/kubepods/burstable/pod${POD}`, { id: `pod${POD}`, runtime: 'cri', podUid: POD }],
    [`/kubepods.slice/kubepods-pod${POD.replaceAll('-', '_')}.slice`, { id: `pod${POD}`, runtime: 'cri', podUid: POD }],
    [`/user.slice/pod${POD}`, null],
  ])('path %s', (path, want) => {
    expect(containerFromPath(path)).toEqual(want);
  });
});

describe('cgroup2 mount point', () => {
  test.each([
    ['mountinfo-hybrid.txt', '/sys/fs/cgroup/unified'],
    ['mountinfo-v2.txt', '/sys/fs/cgroup'],
  ])('%s', (file, want) => {
    expect(cgroup2MountFromMountinfo(fixture(file))).toBe(want);
  });

  test('none on a pure v1 system', () => {
    expect(cgroup2MountFromMountinfo('40 31 0:37 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n')).toBeNull();
  });
});

describe('init of a container from its processes', () => {
  const ref = { id: ID, runtime: 'docker' };
  test.each([
    ['the member whose parent is outside', [50, 51, 52], { 50: 10, 51: 50, 52: 51 }, 50],
    ['pid wrap: init is not the lowest pid', [7, 900], { 7: 900, 900: 3 }, 900],
    ['a vanished parent counts as outside, lowest wins', [31, 30], { 30: null, 31: null }, 30],
  ])('%s', (_what, pids, parents, init) => {
    const members = pids.map((pid) => ({ pid, ref, v2Path: `/docker/${ID}` }));
    const byPid = parents as Record<number, number | null>;
    expect(groupByContainer(members, (pid) => byPid[pid] ?? null)).toEqual([{ ref, init, v2Path: `/docker/${ID}` }]);
  });
});
