/**
 * A real, private containerd with its CRI plugin for e2e tests, and pods run through CRI calls as
 * a kubelet would make them (no kubelet). Everything lives under one temporary directory: root,
 * state, the socket, runc's state, the CNI configuration and its IP allocations.
 *
 * What it changes outside that directory, and puts back in teardown() (on failure too, and from a
 * later start() when the process that made it died): the CNI bridge, ip_forward (the bridge
 * plugin turns it on for a gateway), the pods' cgroups in every hierarchy, containerd's shims and
 * the pods' processes (found by our directory on their command line, stopped by PID).
 *
 * ctr is used here, in tests only, to import the image; src/ talks CRI.
 */
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { CriClient } from '../../../src/containers/cri-client.js';
import { alive, sh, stopPid, unmountBelow } from '../../helpers/sync-proc.js';

const LOCK = '/run/droptrace-e2e-dtk8-containerd.lock';
export const IMAGE = 'docker.io/library/dtk8-busybox:latest';
export const BRIDGE = 'dtk8br0';
/** A private /24 for the pods; the bridge (the host's side) is .1. */
export const SUBNET = '10.213.77.0/24';
export const GATEWAY = '10.213.77.1';
const IPV4_FORWARD = '/proc/sys/net/ipv4/ip_forward';

interface LockState {
  owner: number;
  dir: string;
  containerdPid: number | null;
  ipForward: string;
  bridgeExisted: boolean;
  /** cgroup parents made for pods, relative to each hierarchy's root. */
  cgroups: string[];
  /** Directories containerd and the CNI plugins make at fixed places that did not exist before: removed when empty. */
  fixedDirs: string[];
}

/** Where containerd 1.6 keeps shim sockets and the CNI plugins their result cache, whatever the config says. */
const FIXED_DIRS = ['/run/containerd', '/var/lib/cni'];

export interface PodSpec {
  name: string;
  namespace: string;
  /** Default: a fresh UUID. */
  uid?: string;
  /** Container name in the pod (default `app`). */
  container?: string;
  /** The app's command (default: busybox httpd on port 80). */
  command?: string[];
  /** Kubelet-style cgroup parent `/kubepods/besteffort/pod<uid>` (default true). */
  kubeletCgroups?: boolean;
}

export interface RunningPod {
  name: string;
  namespace: string;
  uid: string;
  sandboxId: string;
  containerId: string;
  containerName: string;
  /** The sandbox's (pause) process and the app's. */
  sandboxPid: number;
  appPid: number;
  netns: number;
  ip: string;
}

/** Processes whose command line names our directory: containerd's shims for our socket. */
function pidsNaming(dir: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir)) out.push(pid);
    } catch {}
  }
  return out;
}

/** Mount points of every cgroup hierarchy (v1 controllers and the v2 unified one). */
function cgroupMounts(): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const fstype = line.slice(sep + 3).split(' ')[0];
    if (fstype === 'cgroup' || fstype === 'cgroup2') out.push(line.slice(0, sep).split(' ')[4]);
  }
  return out;
}

/** Removes a cgroup subtree bottom-up in every hierarchy (rmdir only works on empty cgroups). */
function removeCgroup(rel: string): void {
  const rmTree = (path: string) => {
    let entries: string[] = [];
    try {
      entries = readdirSync(path, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name);
    } catch {
      return;
    }
    for (const e of entries) rmTree(join(path, e));
    try {
      rmdirSync(path);
    } catch {}
  };
  for (const m of cgroupMounts()) rmTree(join(m, rel));
}

function removeEmptyTree(path: string): void {
  let entries: string[];
  try {
    entries = readdirSync(path, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch {
    return;
  }
  for (const e of entries) removeEmptyTree(join(path, e));
  try {
    rmdirSync(path);
  } catch {}
}

/** Everything a run made, undone: pods' processes, containerd, mounts, cgroups, bridge, ip_forward. */
function teardownState(state: LockState): void {
  // runc's view first: the pods' processes are children of the shims, not of containerd
  const runcRoot = join(state.dir, 'runc', 'k8s.io');
  if (existsSync(runcRoot)) {
    for (const id of readdirSync(runcRoot)) {
      sh('runc', ['--root', runcRoot, 'kill', id, 'KILL'], { allowFail: true });
      sh('runc', ['--root', runcRoot, 'delete', '--force', id], { allowFail: true });
    }
  }
  if (state.containerdPid !== null) stopPid(state.containerdPid, 10_000);
  for (const pid of pidsNaming(state.dir)) stopPid(pid, 2000);
  unmountBelow(state.dir);
  for (const rel of state.cgroups) removeCgroup(rel);
  // containerd's default place for a sandbox without a cgroup parent
  for (const m of cgroupMounts()) {
    const k8s = join(m, 'k8s.io');
    if (existsSync(k8s)) removeCgroup('k8s.io');
  }
  if (!state.bridgeExisted && existsSync(`/sys/class/net/${BRIDGE}`)) sh('ip', ['link', 'del', BRIDGE], { allowFail: true });
  // only empty directories go: anything in them is someone else's
  for (const d of state.fixedDirs ?? []) removeEmptyTree(d);
  writeFileSync(IPV4_FORWARD, state.ipForward);
  rmSync(state.dir, { recursive: true, force: true });
}

function readLock(): LockState | null {
  try {
    return JSON.parse(readFileSync(LOCK, 'utf8')) as LockState;
  } catch {
    return null;
  }
}

async function takeLock(state: LockState, waitMs: number): Promise<void> {
  const until = Date.now() + waitMs;
  for (;;) {
    try {
      writeFileSync(LOCK, JSON.stringify(state), { flag: 'wx' });
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const held = readLock();
    if (!held || !alive(held.owner)) {
      if (held) teardownState(held);
      try {
        unlinkSync(LOCK);
      } catch {}
      continue;
    }
    if (Date.now() > until) throw new Error(`another test's containerd holds ${LOCK} (pid ${held.owner})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

const live = new Set<Containerd>();
let exitHook = false;

export class Containerd {
  readonly dir: string;
  readonly socketPath: string;
  pid: number | null = null;
  /** spawn to the first answer on the socket, and the image import. */
  readonly timings = { startMs: Number.NaN, imageImportMs: Number.NaN };
  private state: LockState | null = null;
  private torn = false;
  private cri: CriClient | null = null;
  /** Pods run and not removed yet, by sandbox id. */
  readonly pods = new Map<string, RunningPod>();

  private constructor() {
    this.dir = mkdtempSync('/tmp/dtk8-ctrd-');
    this.socketPath = join(this.dir, 'containerd.sock');
  }

  static async start(opts: { lockWaitMs?: number } = {}): Promise<Containerd> {
    const c = new Containerd();
    try {
      await c.boot(opts.lockWaitMs ?? 300_000);
      c.importImage();
      return c;
    } catch (e) {
      const log = c.log();
      c.teardown();
      throw new Error(`containerd failed to start: ${(e as Error).message}\n--- containerd log ---\n${log.slice(-3000)}`, { cause: e });
    }
  }

  get client(): CriClient {
    this.cri ??= new CriClient(this.socketPath);
    return this.cri;
  }

  log(): string {
    try {
      return readFileSync(join(this.dir, 'containerd.log'), 'utf8');
    } catch {
      return '';
    }
  }

  private writeConfig(): string {
    const d = this.dir;
    const cniConf = join(d, 'cni');
    mkdirSync(cniConf);
    writeFileSync(
      join(cniConf, '10-dtk8.conflist'),
      JSON.stringify({
        cniVersion: '0.4.0',
        name: 'dtk8',
        plugins: [
          {
            type: 'bridge',
            bridge: BRIDGE,
            isGateway: true,
            ipMasq: false,
            ipam: { type: 'host-local', ranges: [[{ subnet: SUBNET, gateway: GATEWAY }]], dataDir: join(d, 'cni-ipam') },
          },
          { type: 'portmap', capabilities: { portMappings: true } },
        ],
      }),
    );
    const config = join(d, 'config.toml');
    writeFileSync(
      config,
      `version = 2
root = "${d}/root"
state = "${d}/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "${this.socketPath}"

[ttrpc]
  address = "${d}/containerd.sock.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "${d}/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${IMAGE}"
  restrict_oom_score_adj = true
  disable_apparmor = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${cniConf}"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "${d}/runc"
`,
    );
    return config;
  }

  private async boot(lockWaitMs: number): Promise<void> {
    const host = () => ({ ipForward: readFileSync(IPV4_FORWARD, 'utf8').trim(), bridgeExisted: existsSync(`/sys/class/net/${BRIDGE}`) });
    this.state = { owner: process.pid, dir: this.dir, containerdPid: null, cgroups: [], fixedDirs: [], ...host() };
    await takeLock(this.state, lockWaitMs);
    // re-read under the lock: a previous holder may just have put things back
    Object.assign(this.state, host(), { fixedDirs: FIXED_DIRS.filter((d) => !existsSync(d)) });
    writeFileSync(LOCK, JSON.stringify(this.state));
    live.add(this);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', () => {
        for (const c of live) c.teardown();
      });
    }
    const config = this.writeConfig();
    const logFd = openSync(join(this.dir, 'containerd.log'), 'a');
    const t0 = performance.now();
    // a file, not a pipe: nobody reads a pipe while the tests wait in spawnSync
    const child = spawn('containerd', ['--config', config], { stdio: ['ignore', logFd, logFd] });
    closeSync(logFd);
    if (child.pid === undefined) throw new Error('containerd did not start');
    this.pid = child.pid;
    this.state.containerdPid = child.pid;
    writeFileSync(LOCK, JSON.stringify(this.state));
    let exited: string | null = null;
    child.on('exit', (code, signal) => {
      exited = `containerd exited (${code ?? signal})`;
    });
    child.unref();
    const until = Date.now() + 30_000;
    for (;;) {
      if (exited) throw new Error(exited);
      if (existsSync(this.socketPath)) {
        try {
          await this.client.version();
          break;
        } catch {}
      }
      if (Date.now() > until) throw new Error('containerd did not answer CRI Version within 30 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    this.timings.startMs = performance.now() - t0;
  }

  private ctr(args: string[]) {
    return sh('ctr', ['--address', this.socketPath, '--namespace', 'k8s.io', ...args]);
  }

  /**
   * An OCI image layout made by hand from busybox-static (one layer, config, manifest, index),
   * imported under IMAGE. It serves as the sandbox (pause) image too: its default command sleeps.
   */
  private importImage(): void {
    const t0 = performance.now();
    const work = join(this.dir, 'image');
    const root = join(work, 'rootfs');
    mkdirSync(join(root, 'bin'), { recursive: true });
    copyFileSync('/bin/busybox', join(root, 'bin', 'busybox'));
    for (const applet of sh('/bin/busybox', ['--list-full']).stdout.split('\n')) {
      if (applet === '' || applet === 'bin/busybox') continue;
      mkdirSync(join(root, applet, '..'), { recursive: true });
      if (!existsSync(join(root, applet))) symlinkSync('/bin/busybox', join(root, applet));
    }
    for (const d of ['www', 'tmp', 'proc', 'sys', 'dev', 'etc']) mkdirSync(join(root, d), { recursive: true });
    writeFileSync(join(root, 'www', 'index.html'), '<h1>droptrace test</h1>\n');
    const layout = join(work, 'layout');
    const blobs = join(layout, 'blobs', 'sha256');
    mkdirSync(blobs, { recursive: true });
    const layerTar = join(work, 'layer.tar');
    sh('tar', ['-C', root, '--owner=0', '--group=0', '-cf', layerTar, '.']);
    const layer = readFileSync(layerTar);
    const layerDigest = sha256(layer);
    writeFileSync(join(blobs, layerDigest), layer);
    const blob = (obj: unknown) => {
      const text = JSON.stringify(obj);
      const digest = sha256(text);
      writeFileSync(join(blobs, digest), text);
      return { digest: `sha256:${digest}`, size: Buffer.byteLength(text) };
    };
    const config = blob({
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['/bin/sleep', '2147483647'], WorkingDir: '/' },
      rootfs: { type: 'layers', diff_ids: [`sha256:${layerDigest}`] },
    });
    const manifest = blob({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${layerDigest}`, size: layer.length }],
    });
    writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    writeFileSync(
      join(layout, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            ...manifest,
            annotations: { 'io.containerd.image.name': IMAGE, 'org.opencontainers.image.ref.name': 'latest' },
          },
        ],
      }),
    );
    const tar = join(work, 'image.tar');
    sh('tar', ['-C', layout, '-cf', tar, '.']);
    this.ctr(['images', 'import', tar]);
    rmSync(work, { recursive: true, force: true });
    this.timings.imageImportMs = performance.now() - t0;
  }

  /** RunPodSandbox, CreateContainer, StartContainer, as a kubelet would call them. */
  async runPod(spec: PodSpec): Promise<RunningPod> {
    const uid = spec.uid ?? randomUUID();
    const containerName = spec.container ?? 'app';
    const cgroupParent = spec.kubeletCgroups === false ? '' : `/kubepods/besteffort/pod${uid}`;
    if (cgroupParent && this.state) {
      // the topmost part that does not exist yet is ours to remove; recorded before the call, so
      // a crash after containerd made it still gets it removed
      const parts = cgroupParent.slice(1).split('/');
      const mounts = cgroupMounts();
      for (let i = 1; i <= parts.length; i++) {
        const rel = parts.slice(0, i).join('/');
        if (mounts.some((m) => existsSync(join(m, rel)))) continue;
        if (!this.state.cgroups.includes(rel)) this.state.cgroups.push(rel);
        break;
      }
      writeFileSync(LOCK, JSON.stringify(this.state));
    }
    const logDir = join(this.dir, 'logs', `${spec.namespace}_${spec.name}_${uid}`);
    mkdirSync(logDir, { recursive: true });
    const sandboxConfig = {
      metadata: { name: spec.name, uid, namespace: spec.namespace, attempt: 0 },
      hostname: spec.name,
      log_directory: logDir,
      labels: { 'io.kubernetes.pod.name': spec.name, 'io.kubernetes.pod.namespace': spec.namespace, 'io.kubernetes.pod.uid': uid },
      annotations: {},
      linux: { cgroup_parent: cgroupParent, security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
    };
    const cri = this.client;
    const { pod_sandbox_id: sandboxId } = await cri.call<{ pod_sandbox_id: string }>(
      'RunPodSandbox',
      { config: sandboxConfig, runtime_handler: '' },
      60_000,
    );
    const { container_id: containerId } = await cri.call<{ container_id: string }>(
      'CreateContainer',
      {
        pod_sandbox_id: sandboxId,
        config: {
          metadata: { name: containerName, attempt: 0 },
          image: { image: IMAGE },
          command: spec.command ?? ['/usr/sbin/httpd', '-f', '-p', '80', '-h', '/www'],
          labels: { 'io.kubernetes.container.name': containerName },
          log_path: `${containerName}.log`,
          linux: {},
        },
        sandbox_config: sandboxConfig,
      },
      60_000,
    );
    await cri.call('StartContainer', { container_id: containerId }, 60_000);
    const sandbox = await cri.podSandboxStatus(sandboxId);
    const app = await cri.containerStatus(containerId);
    if (sandbox.info.pid === null || app.info.pid === null) throw new Error(`pod ${spec.name}: no pid in the verbose status`);
    const pod: RunningPod = {
      name: spec.name,
      namespace: spec.namespace,
      uid,
      sandboxId,
      containerId,
      containerName,
      sandboxPid: sandbox.info.pid,
      appPid: app.info.pid,
      netns: statSync(`/proc/${sandbox.info.pid}/ns/net`).ino,
      ip: sandbox.status.network?.ip ?? '',
    };
    this.pods.set(sandboxId, pod);
    return pod;
  }

  /** StopPodSandbox then RemovePodSandbox (containers go with it). */
  async removePod(pod: RunningPod): Promise<void> {
    await this.client.call('StopPodSandbox', { pod_sandbox_id: pod.sandboxId }, 60_000);
    await this.client.call('RemovePodSandbox', { pod_sandbox_id: pod.sandboxId }, 60_000);
    this.pods.delete(pod.sandboxId);
  }

  /** Runs a command in a pod's container (ExecSync: no streaming server needed). */
  async exec(pod: RunningPod, cmd: string[], timeoutS = 30): Promise<{ stdout: string; stderr: string; exitCode: number }> {
    const r = await this.client.call<{ stdout: Buffer; stderr: Buffer; exit_code: number }>(
      'ExecSync',
      { container_id: pod.containerId, cmd, timeout: timeoutS },
      (timeoutS + 5) * 1000,
    );
    return { stdout: r.stdout.toString(), stderr: r.stderr.toString(), exitCode: r.exit_code };
  }

  /** Removes the pods through CRI (so the CNI plugins release what they made), then teardown(). */
  async stop(): Promise<void> {
    if (this.torn) return;
    for (const pod of [...this.pods.values()]) {
      try {
        await this.removePod(pod);
      } catch {}
    }
    this.teardown();
  }

  /** Stops containerd, its shims and the pods' processes by PID, and puts the host back. */
  teardown(): void {
    if (this.torn) return;
    this.torn = true;
    live.delete(this);
    this.cri?.close();
    if (!this.state) {
      rmSync(this.dir, { recursive: true, force: true });
      return;
    }
    teardownState(this.state);
    const held = readLock();
    if (held?.owner === process.pid && held.dir === this.dir) {
      try {
        unlinkSync(LOCK);
      } catch {}
    }
  }
}
