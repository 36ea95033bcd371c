import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import {
  cgroup2MountFromMountinfo,
  cgroup2MountsFromMountinfo,
  cgroupDirUnder,
  cgroupSegments,
  containerFromCgroupFile,
  containerFromPath,
} from '../../src/containers/cgroup-path.js';
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
      { id: ID, runtime: 'containerd', pod_uid: POD },
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${POD.replaceAll('-', '_')}.slice/cri-containerd-${ID}.scope`,
    ],
    ['cgroup-crio.txt', { id: ID, runtime: 'cri-o', pod_uid: POD }, expect.stringContaining(`crio-${ID}.scope`)],
    ['cgroup-podman.txt', { id: ID, runtime: 'podman' }, `/machine.slice/libpod-${ID}.scope/container`],
    ['cgroup-kubepods-cgroupfs-v1.txt', { id: ID, runtime: 'cri', pod_uid: POD }, null],
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
    [`/kubepods/burstable/pod${POD}`, { id: `pod${POD}`, runtime: 'cri', pod_uid: POD }],
    [`/kubepods.slice/kubepods-pod${POD.replaceAll('-', '_')}.slice`, { id: `pod${POD}`, runtime: 'cri', pod_uid: POD }],
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

describe('cgroup paths under a mount, across cgroup namespaces', () => {
  test('the mount root field of each cgroup2 mount', () => {
    const text = [
      '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
      '52 41 0:38 /../.. /host/cgroup\\040x rw - cgroup2 cgroup2 rw',
      '40 31 0:37 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory',
    ].join('\n');
    expect(cgroup2MountsFromMountinfo(text)).toEqual([
      { mountPoint: '/sys/fs/cgroup/unified', root: '/' },
      { mountPoint: '/host/cgroup x', root: '/../..' },
    ]);
  });

  test.each([
    ['/kubepods/besteffort/pod1/abc', ['kubepods', 'besteffort', 'pod1', 'abc']],
    ['/../../besteffort/pod2/def', ['..', '..', 'besteffort', 'pod2', 'def']],
    ['/a/./b/../c/', ['a', 'c']],
    ['/', []],
  ])('segments of %s', (path, want) => {
    expect(cgroupSegments(path)).toEqual(want);
  });

  test.each([
    // no cgroup namespace of our own: every path is under the mount of the root
    [{ mountPoint: '/sys/fs/cgroup', root: '/' }, '/kubepods/besteffort/pod1/abc', '/sys/fs/cgroup/kubepods/besteffort/pod1/abc'],
    [{ mountPoint: '/sys/fs/cgroup', root: '/' }, '/', '/sys/fs/cgroup'],
    // in a container with a private namespace, its own mount does not reach other pods
    [{ mountPoint: '/sys/fs/cgroup', root: '/' }, '/../../besteffort/pod2/def', null],
    // a mount of an ancestor (the host's, seen from that namespace) does, below the levels it shares
    [{ mountPoint: '/host/cgroup', root: '/../..' }, '/../../besteffort/pod2/def', '/host/cgroup/besteffort/pod2/def'],
    [{ mountPoint: '/host/cgroup', root: '/../..' }, '/../x', null],
    // a mount of a subtree does not reach a sibling
    [{ mountPoint: '/m', root: '/a' }, '/b/c', null],
    [{ mountPoint: '/m', root: '/a' }, '/a/c', '/m/c'],
  ])('%j + %s', (mount, path, want) => {
    expect(cgroupDirUnder(mount, path)).toBe(want);
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
