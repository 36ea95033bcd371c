/**
 * Pods on a real containerd (CRI plugin, no kubelet), run through CRI calls by the test: what the
 * CRI source reports against the kernel, drops made in a pod reported with its pod, namespace and
 * container, `--pod` keeping one pod, a pod deleted and created again under its name followed, a
 * real Prometheus scraping `droptrace serve`, and the bad-input cases.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CriClient } from '../../../src/containers/cri-client.js';
import { CriSource } from '../../../src/containers/cri-source.js';
import { cgroup2Mount } from '../../../src/containers/proc.js';
import type { DropRecord, DroptraceRecord } from '../../../src/events.js';
import { trace } from '../../../src/index.js';
import { BIN, DroptraceRun } from '../../helpers/droptrace-cli.js';
import { SKIP_KERNEL } from '../../helpers/kernel-env.js';
import { freePort } from '../docker/attribution-lab.js';
import { Containerd, type RunningPod } from './containerd.js';
import { Prometheus } from './prometheus.js';

const NS = 'dtk8-shop';
/** A closed UDP port in every pod: each datagram to it is one NO_SOCKET drop in the pod's netns. */
const CLOSED = 9;

/** `count` datagrams from the host to ip:port, a few ms apart (the first one waits for ARP). */
async function udpTo(ip: string, port: number, count: number): Promise<void> {
  const s = createSocket('udp4');
  try {
    for (let i = 0; i < count; i++) {
      await new Promise<void>((resolve, reject) => s.send(Buffer.from('dtk8'), port, ip, (e) => (e ? reject(e) : resolve())));
      await new Promise((r) => setTimeout(r, i === 0 ? 100 : 2));
    }
  } finally {
    s.close();
  }
}

const isDrop = (r: DroptraceRecord): r is DropRecord => r.type === 'drop';

describe.skipIf(SKIP_KERNEL)('Kubernetes pods through CRI (containerd, no kubelet)', () => {
  let ctrd: Containerd;
  let web: RunningPod;
  let other: RunningPod;
  let elsewhere: RunningPod;
  const runs: DroptraceRun[] = [];
  const start = async (args: string[]) => {
    const r = await DroptraceRun.start(args, 30_000);
    runs.push(r);
    return r;
  };

  beforeAll(async () => {
    ctrd = await Containerd.start();
    web = await ctrd.runPod({ name: 'web', namespace: NS });
    other = await ctrd.runPod({ name: 'other', namespace: NS });
    elsewhere = await ctrd.runPod({ name: 'web', namespace: 'dtk8-else' });
    console.error(`containerd ready in ${ctrd.timings.startMs.toFixed(0)} ms, image import ${ctrd.timings.imageImportMs.toFixed(0)} ms`);
  });

  afterAll(async () => {
    for (const r of runs) r.kill();
    await ctrd?.stop();
  });

  test('the CRI source reports the pod (sandbox, netns) and its container (cgroup) as the kernel sees them', async () => {
    const client = new CriClient(ctrd.socketPath);
    try {
      const list = await new CriSource(client).list();
      const sandbox = list.find((c) => c.id === web.sandboxId);
      const app = list.find((c) => c.id === web.containerId);
      expect(sandbox).toMatchObject({
        name: 'web',
        runtime: 'containerd',
        pod: 'web',
        namespace: NS,
        pod_uid: web.uid,
        sandbox: true,
        pid: web.sandboxPid,
        netns: web.netns,
        addresses: [web.ip],
        running: true,
      });
      const mount = cgroup2Mount();
      if (mount === null) throw new Error('no cgroup2 mount');
      const cgroupId = statSync(join(mount, 'kubepods', 'besteffort', `pod${web.uid}`, web.containerId), { bigint: true }).ino;
      expect(app).toMatchObject({ name: 'app', pod: 'web', namespace: NS, pod_uid: web.uid, pid: web.appPid, netns: web.netns, cgroupId });
      expect(app?.sandbox).toBeUndefined();
      // sandboxes come first: the pod, not one of its containers, owns the shared netns
      expect(list.indexOf(sandbox as never)).toBeLessThan(list.indexOf(app as never));
    } finally {
      client.close();
    }
  });

  test('--pod: drops in the pod with pod, namespace and uid; a socket in its container names the container; other pods left out', async () => {
    const dt = await start(['--json', '--cri-socket', ctrd.socketPath, '--pod', `${NS}/web`]);
    await udpTo(other.ip, CLOSED, 5);
    await udpTo(web.ip, CLOSED, 5);
    const podDrop = await dt.waitFor((r): r is DropRecord => isDrop(r) && r.netns === web.netns && r.reason === 'NO_SOCKET', 15_000);
    expect(podDrop.container).toEqual({
      id: web.sandboxId,
      name: 'web',
      runtime: 'containerd',
      image: null,
      pid: web.sandboxPid,
      pod: 'web',
      namespace: NS,
      pod_uid: web.uid,
      sandbox: true,
    });
    expect(podDrop.container_via).toBe('netns');
    // a SYN sent by a socket of the app's (busybox nc), dropped by an OUTPUT rule in the pod's
    // netns: the socket's cgroup says which container
    const rule = ['-p', 'tcp', '--dport', '9999', '-j', 'DROP'];
    execFileSync('nsenter', ['-t', String(web.sandboxPid), '-n', 'iptables', '-w', '-A', 'OUTPUT', ...rule]);
    const sent = await ctrd.exec(web, ['sh', '-c', 'nc -w2 10.213.77.1 9999 </dev/null; echo tried']);
    expect(sent.stdout).toContain('tried');
    const appDrop = await dt.waitFor((r): r is DropRecord => isDrop(r) && r.reason === 'NETFILTER_DROP' && r.dport === 9999, 15_000);
    expect(appDrop.container).toMatchObject({ id: web.containerId, name: 'app', pod: 'web', namespace: NS, pod_uid: web.uid });
    expect(appDrop.container?.sandbox).toBeUndefined();
    expect(appDrop.container_via).toBe('cgroup');
    // and its SYN retransmits, likewise
    const rtx = await dt.waitFor((r) => r.type === 'retransmit' && r.netns === web.netns && r.kind === 'syn', 15_000);
    expect(rtx).toMatchObject({ container: { id: web.containerId, name: 'app', pod: 'web' }, container_via: 'cgroup' });
    expect(await dt.stop()).toBe(0);
    const drops = dt.drops();
    expect(drops.filter((d) => d.netns === other.netns)).toEqual([]);
    expect(drops.filter((d) => d.netns === web.netns && d.reason === 'NO_SOCKET').length).toBe(5);
  });

  test('the library: trace({ pod, criSocket }) names the pod, as the CLI does', async () => {
    const t = await trace({ pod: [`${NS}/web`], criSocket: ctrd.socketPath });
    const timer = setInterval(() => void udpTo(web.ip, CLOSED, 1), 300);
    const deadline = setTimeout(() => t.stop(), 15_000);
    let drop: DropRecord | undefined;
    try {
      for await (const r of t) {
        if (r.type === 'drop' && r.netns === web.netns && r.reason === 'NO_SOCKET') {
          drop = r;
          break;
        }
      }
    } finally {
      clearInterval(timer);
      clearTimeout(deadline);
      t.stop();
    }
    expect(t.start.filter).toMatchObject({ netns: [web.netns], restrict: true });
    expect(drop?.container).toMatchObject({ id: web.sandboxId, pod: 'web', namespace: NS, pod_uid: web.uid, sandbox: true });
  });

  test('droptrace containers lists the pods and their containers', async () => {
    // one JSON array, not NDJSON records: run directly
    const r = spawnSync(process.execPath, [BIN, 'containers', '--json', '--cri-socket', ctrd.socketPath], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as Array<{ id: string; name: string; pod: string | null; pod_uid: string | null; netns: number }>;
    expect(rows.find((x) => x.id === web.sandboxId)).toMatchObject({ name: 'web', pod: `${NS}/web`, pod_uid: web.uid, netns: web.netns });
    expect(rows.find((x) => x.id === web.containerId)).toMatchObject({ name: 'app', pod: `${NS}/web`, pod_uid: web.uid });
  });

  test('--k8s-namespace: every pod of that namespace, none of another namespace (even one with a pod of the same name)', async () => {
    const dt = await start(['--json', '--cri-socket', ctrd.socketPath, '--k8s-namespace', NS]);
    await udpTo(elsewhere.ip, CLOSED, 3);
    await udpTo(web.ip, CLOSED, 3);
    await udpTo(other.ip, CLOSED, 3);
    await dt.waitFor((r) => isDrop(r) && r.netns === other.netns && r.container?.pod === 'other', 15_000);
    await dt.waitFor((r) => isDrop(r) && r.netns === web.netns && r.container?.pod === 'web', 15_000);
    expect(await dt.stop()).toBe(0);
    expect(dt.drops().filter((d) => d.netns === elsewhere.netns)).toEqual([]);
    expect(new Set(dt.drops().map((d) => d.container?.namespace))).toEqual(new Set([NS]));
  });

  test('a pod deleted and created again under its name is followed (new sandbox, new netns)', async () => {
    const dt = await start(['--json', '--cri-socket', ctrd.socketPath, '--pod', `${NS}/web`]);
    await udpTo(web.ip, CLOSED, 1);
    await dt.waitFor((r) => isDrop(r) && r.netns === web.netns);
    const old = web;
    await ctrd.removePod(old);
    const before = dt.drops().length;
    web = await ctrd.runPod({ name: 'web', namespace: NS });
    expect(web.sandboxId).not.toBe(old.sandboxId);
    // the follower rewrites the kernel filter when the index sees the new pod (runtime poll, then
    // refresh); the new netns may even get the old one's inode back, so drops are told apart by
    // when they came, and must then name the new sandbox
    const deadline = Date.now() + 20_000;
    const after = () =>
      dt
        .drops()
        .slice(before)
        .filter((d) => d.netns === web.netns && d.reason === 'NO_SOCKET');
    let hit: DropRecord | undefined;
    while (!hit && Date.now() < deadline) {
      await udpTo(web.ip, CLOSED, 1);
      await new Promise((r) => setTimeout(r, 200));
      hit = after().find((d) => d.container?.id === web.sandboxId);
    }
    console.error(`re-created pod: netns ${old.netns} -> ${web.netns}`);
    expect(hit?.container).toMatchObject({ id: web.sandboxId, pod: 'web', namespace: NS, pod_uid: web.uid, sandbox: true });
    // a reused inode passes the old filter at once; until the index has the new pod such a drop
    // names nobody, but never the pod that is gone
    expect(after().filter((d) => d.container?.id === old.sandboxId)).toEqual([]);
    // seen gone, then running again; or, when both happened between two looks, created again
    expect(dt.stderr).toMatch(new RegExp(`pod ${NS}/web (is running|was created again): netns ${web.netns}`));
    expect(await dt.stop()).toBe(0);
  });

  test('from inside a private cgroup namespace, as in a container on cgroup v2: the socket still names the container', async () => {
    const mount = cgroup2Mount();
    if (mount === null) throw new Error('no cgroup2 mount');
    const agent = join(mount, `dtk8-agent-${process.pid}`);
    mkdirSync(agent);
    try {
      // move into a cgroup of its own, then a new cgroup namespace rooted there whose only cgroup2
      // mount is of that root, as a container runtime sets one up; then exec droptrace (same pid
      // throughout). The mount namespace is private: the host's mounts are not touched.
      const wrapper = [
        'sh',
        '-c',
        `echo $$ > ${agent}/cgroup.procs && exec unshare --cgroup --mount sh -c 'umount ${mount} && mount -t cgroup2 none ${mount} && exec "$@"' inner "$@"`,
        'outer',
      ];
      const dt = await DroptraceRun.start(['--json', '--cri-socket', ctrd.socketPath, '--pod', `${NS}/web`], 30_000, undefined, wrapper);
      runs.push(dt);
      const pid = dt.child.pid ?? 0;
      expect(statSync(`/proc/${pid}/ns/cgroup`).ino).not.toBe(statSync('/proc/self/ns/cgroup').ino);
      // seen from here (the host's namespace): droptrace sits in the agent's cgroup
      expect(readFileSync(`/proc/${pid}/cgroup`, 'utf8')).toContain(`0::/dtk8-agent-${process.pid}\n`);
      const rule = ['-p', 'tcp', '--dport', '9997', '-j', 'DROP'];
      execFileSync('nsenter', ['-t', String(web.sandboxPid), '-n', 'iptables', '-w', '-A', 'OUTPUT', ...rule]);
      await ctrd.exec(web, ['sh', '-c', 'nc -w1 10.213.77.1 9997 </dev/null; true']);
      const d = await dt.waitFor((r): r is DropRecord => isDrop(r) && r.reason === 'NETFILTER_DROP' && r.dport === 9997, 15_000);
      expect(d.container).toMatchObject({ id: web.containerId, name: 'app', pod: 'web' });
      expect(d.container_via).toBe('cgroup');
      expect(await dt.stop()).toBe(0);
    } finally {
      // the cgroup empties once droptrace is gone; a run that failed is killed first
      for (const r of runs) r.kill();
      for (let i = 0; i < 50; i++) {
        try {
          rmdirSync(agent);
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
  });

  test('a real Prometheus scrapes `droptrace serve`: PromQL returns exactly the drops made in the pod', async () => {
    const port = await freePort();
    const dt = await start(['serve', '--metrics', `127.0.0.1:${port}`, '--cri-socket', ctrd.socketPath]);
    const prom = await Prometheus.start(`127.0.0.1:${port}`);
    try {
      const made = 37;
      await udpTo(web.ip, CLOSED, made);
      const q = `sum(droptrace_drops_total{namespace="${NS}",pod="web",reason="NO_SOCKET"})`;
      const deadline = Date.now() + 20_000;
      let value = Number.NaN;
      while (Date.now() < deadline) {
        const r = await prom.query(q);
        value = r[0]?.value ?? Number.NaN;
        if (value >= made) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      // two more scrapes: the count must not creep past what was made
      await new Promise((r) => setTimeout(r, 2500));
      const settled = (await prom.query(q))[0]?.value;
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const lines = metrics.split('\n').filter((l) => l.includes(`pod="web"`) || l.startsWith('droptrace_events_lost_total'));
      console.error(`PromQL ${q} = ${settled} (drops made: ${made})\n${lines.join('\n')}`);
      expect(value).toBe(made);
      expect(settled).toBe(made);
      expect(
        lines.some((l) =>
          /^droptrace_drops_total\{namespace="dtk8-shop",pod="web",container="",layer="transport",component="udp",reason="NO_SOCKET"\} 37$/.test(
            l,
          ),
        ),
      ).toBe(true);
      expect(metrics).toMatch(/^droptrace_build_info\{version="[^"]+",program="(tp_btf|tracepoint)"/m);
      expect(metrics).toMatch(/^process_cpu_seconds_total /m);
      expect(await prom.targetUp()).toBe(true);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      // NDJSON on stdout at the same time
      const record = dt.drops().find((d) => d.netns === web.netns && d.container?.pod === 'web' && d.reason === 'NO_SOCKET');
      console.error(`a drop record from the pod, from serve's stdout:\n${JSON.stringify(record)}`);
      expect(record?.container).toMatchObject({ pod: 'web', namespace: NS, pod_uid: web.uid, sandbox: true });

      // SYN retransmits of a socket in the pod (its SYNs dropped on the way out): the kernel's
      // per-connection counter through Prometheus, against the pod namespace's own TCPSynRetrans
      // (the stream is no measure here: serve traces the whole node, and a shared machine's storms
      // may fill its ring buffer; the counters count what the stream loses)
      const synRetrans = () => {
        const text = execFileSync('nsenter', ['-t', String(web.sandboxPid), '-n', 'cat', '/proc/net/netstat'], { encoding: 'utf8' });
        const [names, values] = text.split('\n').filter((l) => l.startsWith('TcpExt:'));
        const at = names.split(' ').indexOf('TCPSynRetrans');
        return Number(values.split(' ')[at]);
      };
      const rule = ['-p', 'tcp', '--dport', '9998', '-j', 'DROP'];
      execFileSync('nsenter', ['-t', String(web.sandboxPid), '-n', 'iptables', '-w', '-A', 'OUTPUT', ...rule]);
      const synBefore = synRetrans();
      await ctrd.exec(web, ['sh', '-c', 'nc -w4 10.213.77.1 9998 </dev/null; true']);
      const synMade = synRetrans() - synBefore;
      const rq = `sum(droptrace_retransmits_total{namespace="${NS}",pod="web",kind="syn"})`;
      const until = Date.now() + 15_000;
      let rtx = Number.NaN;
      while (Date.now() < until) {
        rtx = (await prom.query(rq))[0]?.value ?? Number.NaN;
        if (rtx >= synMade) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      console.error(`PromQL ${rq} = ${rtx} (TCPSynRetrans in the pod's netns rose by ${synMade})`);
      expect(synMade).toBeGreaterThan(0);
      expect(rtx).toBe(synMade);
    } finally {
      prom.stop();
    }
    expect(await dt.stop()).toBe(0);
  });

  test("a deleted pod's series leave /metrics after the grace period; a running pod's stay", async () => {
    const port = await freePort();
    const dt = await start(['serve', '--metrics', `127.0.0.1:${port}`, '--cri-socket', ctrd.socketPath, '--grace', '1']);
    const brief = await ctrd.runPod({ name: 'brief', namespace: NS });
    const scrape = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const has = (text: string, name: string) => text.includes(`namespace="${NS}",pod="${name}",`);
    try {
      await udpTo(brief.ip, CLOSED, 2);
      await udpTo(web.ip, CLOSED, 2);
      const until = Date.now() + 30_000;
      let text = '';
      while (Date.now() < until && !(has(text, 'brief') && has(text, 'web'))) {
        await new Promise((r) => setTimeout(r, 250));
        text = await scrape();
      }
      expect(
        has(text, 'brief'),
        `brief's series never showed:\n${text
          .split('\n')
          .filter((l) => l.startsWith('droptrace_drops'))
          .join('\n')}`,
      ).toBe(true);
      await ctrd.removePod(brief);
      const gone = Date.now() + 30_000;
      while (Date.now() < gone && has(text, 'brief')) {
        await new Promise((r) => setTimeout(r, 250));
        text = await scrape();
      }
      expect(has(text, 'brief')).toBe(false);
      expect(has(text, 'web')).toBe(true);
    } finally {
      if (ctrd.pods.has(brief.sandboxId)) await ctrd.removePod(brief);
    }
    expect(await dt.stop()).toBe(0);
  });

  test('without a CRI runtime (socket unreachable): one stderr line, and the procfs fallback puts the pod UID in the record', async () => {
    const dt = await start(['--json', '--cri-socket', '/tmp/dtk8-no-such.sock', '--netns', String(web.netns)]);
    await udpTo(web.ip, CLOSED, 2);
    const d = await dt.waitFor((r): r is DropRecord => isDrop(r) && r.netns === web.netns, 15_000);
    expect(d.container?.pod_uid).toBe(web.uid);
    expect(d.container?.pod).toBeUndefined();
    expect(await dt.stop()).toBe(0);
    const lines = dt.stderr.split('\n').filter((l) => l.includes('ERR_DROPTRACE_CRI_UNREACHABLE'));
    expect(lines.length).toBe(1);
    expect(lines[0]).toMatch(/\/tmp\/dtk8-no-such\.sock.*cgroup paths/);
  });

  test('an unknown pod exits 2 with a coded error that lists the pods it knows', async () => {
    const r = await DroptraceRun.run(['--json', '--cri-socket', ctrd.socketPath, '--pod', `${NS}/nope`, '--duration', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ERR_DROPTRACE_POD_UNKNOWN/);
    expect(r.stderr).toContain(`${NS}/web`);
    expect(r.stderr).toContain(`${NS}/other`);
  });

  test('a metrics address in use, or not this host’s, gets a coded error before anything is loaded', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', () => resolve()));
    const port = (busy.address() as { port: number }).port;
    try {
      const inUse = await DroptraceRun.run(['serve', '--metrics', `127.0.0.1:${port}`, '--duration', '1']);
      expect(inUse.code).toBe(1);
      expect(inUse.stderr).toMatch(/ERR_DROPTRACE_METRICS_ADDRESS_IN_USE/);
    } finally {
      busy.close();
    }
    // TEST-NET-1: no interface here has it
    const foreign = await DroptraceRun.run(['serve', '--metrics', '192.0.2.1:9469', '--duration', '1']);
    expect(foreign.code).toBe(1);
    expect(foreign.stderr).toMatch(/ERR_DROPTRACE_METRICS_ADDRESS_NOT_ALLOWED/);
    const bad = await DroptraceRun.run(['serve', '--metrics', 'localhost:x', '--duration', '1']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/ERR_DROPTRACE_OPTION_METRICS_ADDRESS/);
  });
});
