import { describe, expect, test } from 'vitest';
import type { ContainerInfo } from '../../src/containers/types.js';
import { DropMetrics, type KernelCount, ownerLabels } from '../../src/metrics/drop-metrics.js';
import { parseMetricsAddress } from '../../src/metrics/server.js';

describe('parseMetricsAddress', () => {
  test.each([
    ['9469', { host: '127.0.0.1', port: 9469 }],
    ['127.0.0.1:9470', { host: '127.0.0.1', port: 9470 }],
    ['0.0.0.0:9469', { host: '0.0.0.0', port: 9469 }],
    ['[::1]:9469', { host: '::1', port: 9469 }],
    ['[::]:80', { host: '::', port: 80 }],
  ])('%s', (spec, want) => {
    expect(parseMetricsAddress(spec)).toEqual(want);
  });

  test.each(['localhost:9469', ':9469', '127.0.0.1:0', '127.0.0.1:65536', '127.0.0.1:x', '::1:9469', '[::1]9469', '1.2.3:80'])(
    '%s is refused with a code',
    (spec) => {
      expect(() => parseMetricsAddress(spec)).toThrow(expect.objectContaining({ code: 'ERR_DROPTRACE_OPTION_METRICS_ADDRESS' }));
    },
  );
});

function pod(name: string, netns: number, extra: Partial<ContainerInfo> = {}): ContainerInfo {
  return {
    id: `id-${name}-${netns}`,
    name,
    runtime: 'containerd',
    image: null,
    pid: 1,
    pod: name,
    namespace: 'shop',
    sandbox: true,
    netns,
    cgroupId: null,
    addresses: [],
    running: true,
    ...extra,
  };
}

/** A fake kernel and index: counts and owners the test sets. */
function world() {
  const counts = new Map<string, KernelCount>();
  const owners = new Map<number, ContainerInfo>();
  const rtx = new Map<string, { netns: number; kind: string; count: number }>();
  let clock = 0;
  const w = {
    owners,
    stats: { lost: 0, counterFull: 0 },
    add(netns: number, reason: string, location: string, n: number, detected_by: KernelCount['detected_by'] = 'kfree_skb') {
      const k = `${netns}|${reason}|${location}|${detected_by}`;
      const row = counts.get(k) ?? { netns, reason, location, detected_by, count: 0 };
      row.count += n;
      counts.set(k, row);
    },
    retransmit(netns: number, kind: string, n: number) {
      const row = rtx.get(`${netns}|${kind}`) ?? { netns, kind, count: 0 };
      row.count += n;
      rtx.set(`${netns}|${kind}`, row);
    },
    tick(ms: number) {
      clock += ms;
    },
    metrics: undefined as unknown as DropMetrics,
  };
  w.metrics = new DropMetrics(
    {
      counts: () => [...counts.values()].map((r) => ({ ...r })),
      retransmitCounts: () => [...rtx.values()].map((r) => ({ ...r })),
      stats: () => w.stats,
      ownerOf: (n) => owners.get(n) ?? null,
      running: (o) =>
        [...owners.values()].some((c) => c.running && (o.pod ? c.namespace === o.namespace && c.pod === o.pod : c.name === o.container)),
    },
    { version: '0.0.0-test', program: 'tp_btf', graceMs: 1000, now: () => clock },
  );
  return w;
}

async function dropsOf(m: DropMetrics): Promise<Array<{ labels: Record<string, string | number>; value: number }>> {
  m.refresh();
  const metric = await m.registry.getSingleMetric('droptrace_drops_total')?.get();
  return (metric?.values ?? []).map((v) => ({ labels: v.labels as Record<string, string | number>, value: v.value }));
}

describe('DropMetrics', () => {
  test('ownerLabels: a sandbox is the pod, a container in a pod is named, the host has none', () => {
    expect(ownerLabels(pod('web', 1))).toEqual({ namespace: 'shop', pod: 'web', container: '' });
    expect(ownerLabels(pod('web', 1, { sandbox: undefined, name: 'app' }))).toEqual({ namespace: 'shop', pod: 'web', container: 'app' });
    expect(ownerLabels({ name: 'nginx' })).toEqual({ namespace: '', pod: '', container: 'nginx' });
    expect(ownerLabels(null)).toEqual({ namespace: '', pod: '', container: '' });
  });

  test('kernel counts become per-pod counters with layer and component, deltas only', async () => {
    const w = world();
    w.owners.set(11, pod('web', 11));
    w.add(11, 'NO_SOCKET', '__udp4_lib_rcv+0x5c', 7);
    w.add(99, 'NO_SOCKET', '__udp4_lib_rcv+0x5c', 3);
    let d = await dropsOf(w.metrics);
    const web = d.find((x) => x.labels.pod === 'web');
    expect(web).toEqual({
      // the component the record of the same drop has: the function names the protocol
      labels: { namespace: 'shop', pod: 'web', container: '', layer: 'transport', component: 'udp', reason: 'NO_SOCKET' },
      value: 7,
    });
    expect(d.find((x) => x.labels.pod === '')?.value).toBe(3);
    w.add(11, 'NO_SOCKET', '__udp4_lib_rcv+0x5c', 5);
    d = await dropsOf(w.metrics);
    expect(d.find((x) => x.labels.pod === 'web')?.value).toBe(12);
    // no address, port or location among the labels
    for (const x of d) expect(Object.keys(x.labels).sort()).toEqual(['component', 'container', 'layer', 'namespace', 'pod', 'reason']);
  });

  test('SYNs refused at either queue are two kernel keys with one reason and location: each counted once', async () => {
    const w = world();
    w.owners.set(11, pod('web', 11));
    w.add(11, 'TCP_LISTEN_OVERFLOW', 'tcp_rcv_state_process+0x1a0', 100, 'syn_accept_queue_full');
    w.add(11, 'TCP_LISTEN_OVERFLOW', 'tcp_rcv_state_process+0x1a0', 50, 'syn_queue_full');
    for (let i = 0; i < 5; i++) await dropsOf(w.metrics);
    w.add(11, 'TCP_LISTEN_OVERFLOW', 'tcp_rcv_state_process+0x1a0', 1, 'syn_queue_full');
    const d = await dropsOf(w.metrics);
    expect(d.filter((x) => x.labels.reason === 'TCP_LISTEN_OVERFLOW').reduce((n, x) => n + x.value, 0)).toBe(151);
  });

  test('a pod re-created under its name continues its series; a reused inode does not inherit it', async () => {
    const w = world();
    w.owners.set(11, pod('web', 11));
    w.add(11, 'NO_SOCKET', 'tcp_v4_rcv+0x1', 2);
    await dropsOf(w.metrics);
    // web goes away; its inode goes to another pod; web comes back in a new netns
    w.owners.delete(11);
    w.owners.set(11, pod('db', 11));
    w.owners.set(12, pod('web', 12));
    w.add(11, 'NO_SOCKET', 'tcp_v4_rcv+0x1', 4);
    w.add(12, 'NO_SOCKET', 'tcp_v4_rcv+0x1', 1);
    const d = await dropsOf(w.metrics);
    expect(d.find((x) => x.labels.pod === 'web')?.value).toBe(3);
    expect(d.find((x) => x.labels.pod === 'db')?.value).toBe(4);
  });

  test("a pod's final drops counted after it went stay its own; its series go after the grace period", async () => {
    const w = world();
    w.owners.set(11, pod('web', 11));
    w.add(11, 'NO_SOCKET', 'tcp_v4_rcv+0x1', 2);
    await dropsOf(w.metrics);
    w.owners.delete(11);
    w.add(11, 'NO_SOCKET', 'tcp_v4_rcv+0x1', 1);
    expect((await dropsOf(w.metrics)).find((x) => x.labels.pod === 'web')?.value).toBe(3);
    w.tick(999);
    expect((await dropsOf(w.metrics)).find((x) => x.labels.pod === 'web')?.value).toBe(3);
    w.tick(2);
    expect((await dropsOf(w.metrics)).find((x) => x.labels.pod === 'web')).toBeUndefined();
  });

  test("a container outside pods expires the same way; the host's series stay", async () => {
    const w = world();
    w.owners.set(21, pod('nginx', 21, { pod: undefined, namespace: undefined, sandbox: undefined, runtime: 'docker' }));
    w.add(21, 'NO_SOCKET', 'tcp_v4_rcv+0x1', 1);
    w.add(1, 'NO_SOCKET', 'tcp_v4_rcv+0x1', 1);
    let d = await dropsOf(w.metrics);
    expect(d.find((x) => x.labels.container === 'nginx')?.value).toBe(1);
    w.owners.delete(21);
    await dropsOf(w.metrics);
    w.tick(1001);
    d = await dropsOf(w.metrics);
    expect(d.find((x) => x.labels.container === 'nginx')).toBeUndefined();
    expect(d.find((x) => x.labels.container === '' && x.labels.pod === '')?.value).toBe(1);
  });

  test('retransmits from their kernel counters, by owner and kind', async () => {
    const w = world();
    w.owners.set(11, pod('web', 11));
    w.retransmit(11, 'rto', 3);
    w.retransmit(11, 'syn', 1);
    w.metrics.refresh();
    w.retransmit(11, 'rto', 2);
    w.metrics.refresh();
    const values = (await w.metrics.registry.getSingleMetric('droptrace_retransmits_total')?.get())?.values ?? [];
    expect(values.map((v) => [v.labels, v.value])).toEqual([
      [{ namespace: 'shop', pod: 'web', container: '', kind: 'rto' }, 5],
      [{ namespace: 'shop', pod: 'web', container: '', kind: 'syn' }, 1],
    ]);
  });

  test('lost events and uncounted drops are counters too', async () => {
    const w = world();
    w.stats = { lost: 5, counterFull: 2 };
    const text = await w.metrics.scrape();
    expect(text).toMatch(/^droptrace_events_lost_total 5$/m);
    expect(text).toMatch(/^droptrace_uncounted_total 2$/m);
    expect(text).toMatch(/^droptrace_build_info\{version="0.0.0-test",program="tp_btf",kernel="[^"]+",node_version="[^"]+"\} 1$/m);
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
  });
});
