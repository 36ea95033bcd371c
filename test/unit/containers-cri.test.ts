import { statSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { exitCodeFor } from '../../src/cli/exit-codes.js';
import { attribute, type ContainerLookups } from '../../src/containers/attribution.js';
import { parseVerboseInfo } from '../../src/containers/cri-client.js';
import { containerInfo, runtimeLabel, sandboxInfo } from '../../src/containers/cri-source.js';
import { knownPods, namespaceMembers, parseK8sNamespace, parsePodSpec, podMembers, unknownPod } from '../../src/containers/pod-names.js';
import type { ContainerInfo } from '../../src/containers/types.js';

const ownNetns = statSync('/proc/self/ns/net').ino;

describe('CRI verbose info', () => {
  test('pid and the netns path of the OCI spec (containerd and CRI-O shape)', () => {
    const info = {
      info: JSON.stringify({
        pid: 4242,
        runtimeSpec: { linux: { namespaces: [{ type: 'pid' }, { type: 'network', path: '/var/run/netns/cni-1234' }] } },
      }),
    };
    expect(parseVerboseInfo(info)).toEqual({ pid: 4242, netnsPath: '/var/run/netns/cni-1234' });
  });

  test.each([
    ['no info', undefined],
    ['empty', {}],
    ['not JSON', { info: '{pid: 1' }],
    ['a string', { info: '"x"' }],
    ['pid not a positive integer', { info: '{"pid": -1}' }],
    ['pid a string', { info: '{"pid": "12"}' }],
    ['relative netns path', { info: '{"runtimeSpec":{"linux":{"namespaces":[{"type":"network","path":"netns"}]}}}' }],
  ])('%s: nothing trusted', (_what, info) => {
    expect(parseVerboseInfo(info as Record<string, string> | undefined)).toEqual({ pid: null, netnsPath: null });
  });

  test.each([
    ['containerd', 'containerd'],
    ['cri-o', 'cri-o'],
    ['CRI-O', 'cri-o'],
    ['', 'cri'],
  ])('runtime %j is %j', (name, label) => {
    expect(runtimeLabel(name)).toBe(label);
  });
});

const meta = { name: 'web', uid: '0b4b3c2a-1111-2222-3333-444455556666', namespace: 'shop', attempt: 0 };

describe('CRI source records', () => {
  test('a ready sandbox is the pod: its name, uid, netns from its pid, addresses from the status', () => {
    const info = sandboxInfo(
      {
        id: 'a'.repeat(64),
        metadata: meta,
        state: 'SANDBOX_READY',
        created_at: '1',
        labels: {},
        annotations: {},
        network: { ip: '10.1.2.3', additional_ips: [{ ip: 'fd00::3' }, { ip: 'not-an-ip' }] },
      },
      { pid: process.pid, netnsPath: null },
      'containerd',
    );
    expect(info).toMatchObject({
      id: 'a'.repeat(64),
      name: 'web',
      pod: 'web',
      namespace: 'shop',
      pod_uid: meta.uid,
      sandbox: true,
      pid: process.pid,
      netns: ownNetns,
      addresses: ['10.1.2.3', 'fd00::3'],
      running: true,
    });
  });

  test('a sandbox that is not ready owns no netns', () => {
    const info = sandboxInfo(
      { id: 'b'.repeat(64), metadata: meta, state: 'SANDBOX_NOTREADY', created_at: '1', labels: {}, annotations: {}, network: null },
      { pid: process.pid, netnsPath: null },
      'containerd',
    );
    expect(info).toMatchObject({ pid: null, netns: null, running: false, sandbox: true });
  });

  test('a container is named by its name in the pod and carries its pod', () => {
    const c = containerInfo(
      {
        id: 'c'.repeat(64),
        pod_sandbox_id: 'a'.repeat(64),
        metadata: { name: 'app', attempt: 0 },
        image: { image: 'docker.io/library/nginx:1' },
        image_ref: 'sha256:1',
        state: 'CONTAINER_RUNNING',
        created_at: '1',
        labels: {},
        annotations: {},
      },
      { id: 'a'.repeat(64), metadata: meta, state: 'SANDBOX_READY', created_at: '1', labels: {}, annotations: {} },
      { pid: process.pid, netnsPath: null },
      'containerd',
    );
    expect(c).toMatchObject({
      name: 'app',
      image: 'docker.io/library/nginx:1',
      pod: 'web',
      namespace: 'shop',
      pod_uid: meta.uid,
      netns: ownNetns,
    });
    expect(c.sandbox).toBeUndefined();
  });
});

function entry(id: string, extra: Partial<ContainerInfo>): ContainerInfo {
  return { id, name: id, runtime: 'containerd', image: null, pid: 1, netns: null, cgroupId: null, addresses: [], running: true, ...extra };
}

const sandbox = entry('sb', { name: 'web', pod: 'web', namespace: 'shop', pod_uid: 'u1', sandbox: true, netns: 7 });
const app = entry('app', { name: 'app', pod: 'web', namespace: 'shop', pod_uid: 'u1', netns: 7, cgroupId: 100n });
const stranger = entry('x', { name: 'other', pod: 'other', namespace: 'shop', pod_uid: 'u2', cgroupId: 200n, netns: 8 });
const lookups: ContainerLookups = {
  hostNetns: 1,
  byNetns: (n) => [sandbox, stranger].find((c) => c.netns === n) ?? null,
  byCgroup: (id) => [app, stranger].find((c) => c.cgroupId === id) ?? null,
  byAddress: () => null,
};
const ev = (netns: number, cgroup: string | null) => ({ netns, cgroup_id: cgroup, saddr: null, daddr: null });

describe('attribution in a pod', () => {
  test("the pod's netns names the pod", () => {
    expect(attribute(lookups, ev(7, null))).toEqual({ container: sandbox, via: 'netns' });
  });
  test('a socket of one of its containers names the container', () => {
    expect(attribute(lookups, ev(7, '100'))).toEqual({ container: app, via: 'cgroup' });
  });
  test("a socket of another pod's container does not rename the drop", () => {
    expect(attribute(lookups, ev(7, '200'))).toEqual({ container: sandbox, via: 'netns' });
  });
});

describe('--pod and --k8s-namespace', () => {
  test.each(['shop/web', 'kube-system/coredns-7d4b9c-x2x9z', 'a/b.c'])('%s parses', (spec) => {
    const [namespace, name] = spec.split('/');
    expect(parsePodSpec(spec)).toEqual({ namespace, name });
  });
  test.each(['web', '/web', 'shop/', 'Shop/web', 'shop/web/x', 'shop/-web', 'shop/we b'])('%j is refused, exit 2', (spec) => {
    let err: unknown;
    try {
      parsePodSpec(spec);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'ERR_DROPTRACE_OPTION_POD' });
    expect(exitCodeFor(err)).toBe(2);
  });
  test('namespace names are checked', () => {
    expect(parseK8sNamespace('kube-system')).toBe('kube-system');
    expect(() => parseK8sNamespace('--netns')).toThrow(expect.objectContaining({ code: 'ERR_DROPTRACE_OPTION_K8S_NAMESPACE' }));
  });
  test('members, known pods, and the unknown-pod error (exit 2) that lists them', () => {
    const all = [sandbox, app, stranger, entry('dead', { pod: 'gone', namespace: 'shop', running: false })];
    expect(podMembers(all, { namespace: 'shop', name: 'web' })).toEqual([sandbox, app]);
    expect(namespaceMembers(all, 'shop')).toEqual([sandbox, app, stranger]);
    expect(knownPods(all)).toEqual(['shop/other', 'shop/web']);
    const e = unknownPod({ namespace: 'shop', name: 'nope' }, all, []);
    expect(e.code).toBe('ERR_DROPTRACE_POD_UNKNOWN');
    expect(e.message).toBe('no running pod shop/nope; pods: shop/other, shop/web');
    expect(exitCodeFor(e)).toBe(2);
  });
});
