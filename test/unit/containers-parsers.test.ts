import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { normalizeAddress } from '../../src/containers/address.js';
import { DockerApi, dockerSocketFromEnv, splitJsonLines } from '../../src/containers/docker-api.js';
import { addressesFromNetworks, infoFromSummary } from '../../src/containers/docker-source.js';
import { parseFibTrieLocal, parseIfInet6 } from '../../src/containers/netns-addresses.js';
import { parseLinkPeers } from '../../src/containers/veth.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/containers/${name}`, import.meta.url), 'utf8');

describe('addresses', () => {
  test.each([
    ['10.2.0.1', '10.2.0.1'],
    ['fd00:0:0:0:0:0:0:1', 'fd00::1'],
    ['FD00::0001', 'fd00::1'],
    ['fe80::1%eth0', 'fe80::1'],
    ['::ffff:10.2.0.1', '10.2.0.1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['', null],
    ['nope', null],
    ['300.1.1', null],
  ])('normalize %s', (a, want) => {
    expect(normalizeAddress(a)).toBe(want);
  });

  test('fib_trie: local IPv4 addresses, loopback left out, each once', () => {
    expect(parseFibTrieLocal(fixture('fib_trie.txt'))).toEqual(['192.0.2.2']);
  });

  test('if_inet6: global scope only', () => {
    expect(parseIfInet6(fixture('if_inet6.txt'))).toEqual(['fd00::2']);
  });

  test('Engine API networks: IPv4 and IPv6 of every network, empty strings skipped', () => {
    expect(
      addressesFromNetworks(
        {
          bridge: { IPAddress: '172.17.0.2', GlobalIPv6Address: '' },
          lab: { IPAddress: '10.2.1.5', GlobalIPv6Address: 'fd00:0::5' },
        },
        { IPAddress: '172.17.0.2' },
      ),
    ).toEqual(['172.17.0.2', '10.2.1.5', 'fd00::5']);
  });

  test('a stopped container from the list: name without the slash, not running', () => {
    expect(
      infoFromSummary(
        {
          Id: 'a'.repeat(64),
          Names: ['/nginx'],
          Image: 'nginx:1',
          State: 'exited',
          Labels: { 'io.kubernetes.pod.name': 'web-0' },
        },
        'docker',
      ),
    ).toEqual({
      id: 'a'.repeat(64),
      name: 'nginx',
      runtime: 'docker',
      image: 'nginx:1',
      pid: null,
      pod: 'web-0',
      netns: null,
      cgroupId: null,
      addresses: [],
      running: false,
    });
  });
});

describe('Engine API plumbing', () => {
  test('JSON lines split at any chunk boundary', () => {
    const text = '{"a":1}\n{"b":"é"}\n\n{"c":3}\n{"d":';
    for (let cut = 0; cut <= text.length; cut++) {
      const got: unknown[] = [];
      const tail = splitJsonLines(text.slice(0, cut), (o) => got.push(o));
      splitJsonLines(tail + text.slice(cut), (o) => got.push(o));
      expect(got).toEqual([{ a: 1 }, { b: 'é' }, { c: 3 }]);
    }
  });

  test.each([
    [{}, '/var/run/docker.sock'],
    [{ DOCKER_HOST: '' }, '/var/run/docker.sock'],
    [{ DOCKER_HOST: 'unix:///tmp/x/docker.sock' }, '/tmp/x/docker.sock'],
  ])('socket from %j', (env, want) => {
    expect(dockerSocketFromEnv(env)).toBe(want);
  });

  test('a tcp DOCKER_HOST is refused with the API code', () => {
    expect(() => dockerSocketFromEnv({ DOCKER_HOST: 'tcp://10.0.0.1:2375' })).toThrow(
      expect.objectContaining({ code: 'ERR_DROPTRACE_CONTAINER_API' }),
    );
  });

  test('a missing socket is a clear API error naming the socket', async () => {
    const api = new DockerApi({ socketPath: '/nonexistent/dtctr.sock', timeoutMs: 500 });
    const err = await api.ping().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_DROPTRACE_CONTAINER_API' });
    expect((err as Error).message).toMatch(/unix:\/\/\/nonexistent\/dtctr\.sock.*does not exist/);
    expect((err as { hint?: string }).hint).toMatch(/DOCKER_HOST/);
  });

  test('the event stream reports its end on a missing socket', async () => {
    const api = new DockerApi({ socketPath: '/nonexistent/dtctr.sock', timeoutMs: 500 });
    const err = await new Promise((resolve) => api.events({}, () => {}, resolve));
    expect(err).toMatchObject({ code: 'ERR_DROPTRACE_CONTAINER_API' });
  });
});

describe('parseLinkPeers (ip -o link inside a container)', () => {
  test('pairs each veth with its peer ifindex, and skips devices without a peer', () => {
    const text = [
      '1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00',
      '14: eth0@if15: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default \\    link/ether 02:42:ac:11:00:02 brd ff:ff:ff:ff:ff:ff link-netnsid 0',
      '16: eth1@if17: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 100 qdisc noqueue state UP',
    ].join('\n');
    expect(parseLinkPeers(text)).toEqual([
      { inner: 'eth0', peerIndex: 15 },
      { inner: 'eth1', peerIndex: 17 },
    ]);
  });
});
