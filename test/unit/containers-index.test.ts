import { describe, expect, test } from 'vitest';
import { type AttributionInput, type ContainerChange, ContainerIndex } from '../../src/containers/index.js';
import type { ContainerInfo, ContainerSource, RuntimeChange } from '../../src/containers/types.js';

const HOST = 4026531840;
const hex = (c: string) => c.repeat(64);

function info(over: Partial<ContainerInfo> & Pick<ContainerInfo, 'id' | 'name'>): ContainerInfo {
  return {
    runtime: 'docker',
    image: 'busybox',
    pid: 100,
    netns: null,
    cgroupId: null,
    addresses: [],
    running: true,
    ...over,
  };
}

const nginx = info({
  id: hex('a'),
  name: 'nginx',
  pid: 101,
  netns: 4026532001,
  cgroupId: 9001n,
  addresses: ['172.17.0.2', 'fd00::2'],
});
const side = info({
  id: hex('b'),
  name: 'bystander',
  pid: 102,
  netns: 4026532002,
  cgroupId: 9002n,
  addresses: ['172.17.0.3'],
});
const stopped = info({ id: hex('c'), name: 'old', pid: null, running: false, addresses: ['172.17.0.9'] });
const hostnet = info({ id: hex('d'), name: 'hostnet', pid: 104, netns: HOST, cgroupId: 9004n });
const lab = info({ id: 'lab-a', name: 'lab-a', runtime: 'netns', image: null, pid: null, netns: 4026532010 });

/** A source whose answer the test sets; `emit` plays the runtime's event stream. */
class FixedSource implements ContainerSource {
  calls = 0;
  emit: (c: RuntimeChange) => void = () => {};
  constructor(
    readonly name: string,
    public items: ContainerInfo[] | Error,
  ) {}
  async list() {
    this.calls++;
    if (this.items instanceof Error) throw this.items;
    return this.items.map((i) => ({ ...i, addresses: [...i.addresses] }));
  }
  watch(onChange: (c: RuntimeChange) => void) {
    this.emit = onChange;
    return () => {
      this.emit = () => {};
    };
  }
}

function setup(items: ContainerInfo[], opts: { refreshMinMs?: number } = {}) {
  const clock = { t: 0 };
  const dead = new Set<string>();
  const src = new FixedSource('docker', items);
  const index = new ContainerIndex({
    sources: [src, new FixedSource('netns', [lab])],
    hostNetns: HOST,
    isAlive: (c) => !dead.has(c.id),
    verifyMs: 100,
    refreshMinMs: opts.refreshMinMs ?? 0,
    eventDebounceMs: 0,
    pollMs: 0,
    now: () => clock.t,
  });
  return { index, src, clock, dead };
}

const ev = (o: Partial<AttributionInput>): AttributionInput => ({
  netns: HOST,
  cgroup_id: null,
  saddr: null,
  daddr: null,
  ...o,
});
const settle = () => new Promise((r) => setTimeout(r, 20));

describe('attribution order and scope', () => {
  test.each<[string, AttributionInput, string | null, string | null]>([
    ['drop in the container netns', ev({ netns: nginx.netns!, daddr: '172.17.0.3' }), 'nginx', 'netns'],
    ['socket cgroup (string from NDJSON)', ev({ cgroup_id: '9002' }), 'bystander', 'cgroup'],
    ['socket cgroup (bigint)', ev({ cgroup_id: 9001n }), 'nginx', 'cgroup'],
    ['netns wins over cgroup', ev({ netns: side.netns!, cgroup_id: '9001' }), 'bystander', 'netns'],
    ['host-side veth, peer in the container', ev({ peer: { netns: nginx.netns! } }), 'nginx', 'veth-peer'],
    ['host bridge, destination address', ev({ saddr: '10.0.0.1', daddr: '172.17.0.2' }), 'nginx', 'address'],
    ['host bridge, source address', ev({ saddr: '172.17.0.3', daddr: '10.0.0.1' }), 'bystander', 'address'],
    ['destination before source', ev({ saddr: '172.17.0.3', daddr: '172.17.0.2' }), 'nginx', 'address'],
    ['IPv6 in another spelling', ev({ daddr: 'FD00:0:0::2' }), 'nginx', 'address'],
    ['address outside the host netns does not count', ev({ netns: 4026532999, daddr: '172.17.0.2' }), null, null],
    ['a stopped container owns no address', ev({ daddr: '172.17.0.9' }), null, null],
    ['host network container is not the host netns', ev({}), null, null],
    ['host network container still found by cgroup', ev({ cgroup_id: '9004' }), 'hostnet', 'cgroup'],
    ['plain ip netns by name', ev({ netns: lab.netns! }), 'lab-a', 'netns'],
    ['cgroup 0 and garbage are ignored', ev({ cgroup_id: 'x' }), null, null],
  ])('%s', async (_what, input, name, via) => {
    const { index } = setup([nginx, side, stopped, hostnet]);
    await index.refresh();
    const got = index.attribute(input);
    expect({ name: got?.container.name ?? null, via: got?.via ?? null }).toEqual({ name, via });
  });

  test('an address two namespaces claim names neither', async () => {
    const twin = info({ id: hex('e'), name: 'twin', pid: 105, netns: 4026532005, addresses: ['172.17.0.2'] });
    const { index } = setup([nginx, twin]);
    await index.refresh();
    expect(index.byAddress('172.17.0.2')).toBeNull();
    expect(index.byAddress('fd00::2')?.name).toBe('nginx');
  });
});

describe('reuse of namespaces and addresses', () => {
  test('a hit is re-checked after verifyMs and a dead container is never returned', async () => {
    const { index, clock, dead, src } = setup([nginx, side]);
    await index.refresh();
    expect(index.byNetns(nginx.netns!)?.name).toBe('nginx');
    dead.add(nginx.id);
    clock.t = 50; // still trusted from the refresh
    expect(index.byNetns(nginx.netns!)?.name).toBe('nginx');
    clock.t = 150;
    // The same inode now belongs to a new namespace: the old name must not come back.
    src.items = [side, info({ id: hex('f'), name: 'newcomer', pid: 106, netns: nginx.netns, addresses: ['172.17.0.2'] })];
    expect(index.byNetns(nginx.netns!)).toBeNull();
    expect(index.byAddress('172.17.0.2')).toBeNull();
    await settle();
    expect(index.byNetns(nginx.netns!)?.name).toBe('newcomer');
    expect(index.byAddress('172.17.0.2')?.name).toBe('newcomer');
  });

  test('a die event evicts at once, before any refresh', async () => {
    const { index, src } = setup([nginx, side]);
    await index.start();
    src.items = [side];
    src.emit({ id: nginx.id, action: 'die' });
    expect(index.byNetns(nginx.netns!)).toBeNull();
    expect(index.byCgroup(9001n)).toBeNull();
    expect(index.byAddress('172.17.0.2')).toBeNull();
    expect(index.byNetns(side.netns!)?.name).toBe('bystander');
    index.stop();
  });

  test('restart: one change with the new incarnation', async () => {
    const { index, src } = setup([nginx, side]);
    const changes: ContainerChange[] = [];
    index.on('change', (c) => changes.push(c));
    await index.start();
    expect(changes).toEqual([{ added: [nginx, side, lab], removed: [], changed: [] }]);
    const reborn = { ...nginx, pid: 201, netns: 4026532007, addresses: ['172.17.0.4'] };
    src.items = [reborn, side];
    src.emit({ id: nginx.id, action: 'die' });
    src.emit({ id: nginx.id, action: 'start' });
    await settle();
    expect(changes.slice(1)).toEqual([{ added: [], removed: [], changed: [{ before: nginx, after: reborn }] }]);
    expect(index.byNetns(4026532007)?.pid).toBe(201);
    expect(index.byNetns(nginx.netns!)).toBeNull();
    index.stop();
  });
});

describe('refresh on miss', () => {
  test('a miss refreshes once, rate-limited, and the next look-up has the answer', async () => {
    const { index, src, clock } = setup([side], { refreshMinMs: 1000 });
    await index.refresh();
    expect(src.calls).toBe(1);
    src.items = [side, nginx];
    clock.t = 2000;
    expect(index.byNetns(nginx.netns!)).toBeNull();
    expect(index.byNetns(nginx.netns!)).toBeNull();
    await settle();
    expect(src.calls).toBe(2);
    expect(index.byNetns(nginx.netns!)?.name).toBe('nginx');
    // Unknown keys do not hammer the sources: the negative cache holds them.
    for (let i = 0; i < 100; i++) index.byNetns(4026539000);
    await settle();
    expect(src.calls).toBe(2);
  });

  test('the host netns and address misses never refresh', async () => {
    const { index, src } = setup([side]);
    await index.refresh();
    index.attribute(ev({ saddr: '8.8.8.8', daddr: '10.1.1.1' }));
    await settle();
    expect(src.calls).toBe(1);
  });
});

describe('resolve and sources', () => {
  test.each([
    ['nginx', 'nginx'],
    [hex('a'), 'nginx'],
    ['bbbb', 'bystander'],
    ['old', 'old'],
    ['lab-a', 'lab-a'], // a plain ip netns, as `droptrace containers` lists it
  ])('resolve(%s)', async (spec, name) => {
    const { index } = setup([nginx, side, stopped]);
    expect((await index.resolve(spec)).name).toBe(name);
  });

  test('an unknown name lists the running containers', async () => {
    const { index } = setup([nginx, side, stopped]);
    const err = await index.resolve('ngnix').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_DROPTRACE_CONTAINER_UNKNOWN' });
    expect((err as Error).message).toBe(
      `no container or ip netns named or with id "ngnix"; running: nginx (docker ${'a'.repeat(12)}), bystander (docker ${'b'.repeat(12)}); ip netns: lab-a`,
    );
  });

  test('an ambiguous id prefix is its own error', async () => {
    const { index } = setup([nginx, info({ id: `a${hex('9').slice(1)}`, name: 'other', netns: 4026532008 })]);
    await expect(index.resolve('a')).rejects.toMatchObject({ code: 'ERR_DROPTRACE_CONTAINER_AMBIGUOUS' });
  });

  test('a failing source warns once and the others fill in', async () => {
    const { DroptraceError } = await import('../../src/errors.js');
    const down = new FixedSource('docker', new DroptraceError('ERR_DROPTRACE_CONTAINER_API', 'docker API down'));
    const procfs = new FixedSource('procfs', [{ ...nginx, name: nginx.id.slice(0, 12), image: null }]);
    const index = new ContainerIndex({ sources: [down, procfs], hostNetns: HOST, pollMs: 0, isAlive: () => true });
    const warnings: Error[] = [];
    index.on('warning', (e) => warnings.push(e));
    await index.refresh();
    await index.refresh();
    expect(warnings.map((w) => w.message)).toEqual(['docker API down']);
    expect(index.byNetns(nginx.netns!)?.name).toBe('aaaaaaaaaaaa');
    down.items = [nginx];
    await index.refresh();
    expect(index.sourceErrors.size).toBe(0);
    expect(index.byNetns(nginx.netns!)).toMatchObject({ name: 'nginx', image: 'busybox' });
  });

  test('the preferred source wins; later ones only fill gaps', async () => {
    const api = new FixedSource('docker', [{ ...nginx, cgroupId: null }]);
    const procfs = new FixedSource('procfs', [{ ...nginx, name: 'aaaaaaaaaaaa', cgroupId: 7777n }]);
    const index = new ContainerIndex({ sources: [api, procfs], hostNetns: HOST, pollMs: 0, isAlive: () => true });
    await index.refresh();
    expect(index.list()).toEqual([{ ...nginx, cgroupId: 7777n }]);
  });
});

describe('namespaces the index stops vouching for are announced (caches keyed by inode forget them)', () => {
  test('a container that went away, one evicted on a runtime event, and an inode reused by another', async () => {
    const { index, src, dead } = setup([nginx, side]);
    const gone: number[] = [];
    index.on('gone', (n) => gone.push(n));
    await index.start(); // follows the source's events
    expect(gone).toEqual([]);

    // bystander removed from the runtime's list
    src.items = [nginx];
    await index.refresh();
    expect(gone).toEqual([side.netns]);

    // nginx dies: evicted at once on the event, announced once (not again by the refresh)
    dead.add(nginx.id);
    src.emit({ id: nginx.id, action: 'die' });
    src.items = [];
    await settle();
    expect(gone).toEqual([side.netns, nginx.netns]);

    // a new container whose namespace got the dead one's inode: the old owner's inode is announced
    dead.clear();
    src.items = [nginx];
    await index.refresh();
    const reuse = info({ id: hex('f'), name: 'newcomer', pid: 106, netns: nginx.netns });
    src.items = [reuse];
    await index.refresh();
    expect(gone).toEqual([side.netns, nginx.netns, nginx.netns]);
    expect(index.byNetns(nginx.netns!)?.name).toBe('newcomer');
    index.stop();
  });
});
