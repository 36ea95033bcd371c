/**
 * Which container a process belongs to, from the text of `/proc/<pid>/cgroup`. Pure: no I/O,
 * so every runtime's naming can be pinned by fixture strings.
 *
 * Path shapes (the last match in a path wins, so docker-in-docker names the inner container):
 *   /docker/<64hex>                                  docker, cgroupfs driver
 *   /system.slice/docker-<64hex>.scope               docker, systemd driver
 *   …/cri-containerd-<64hex>.scope                   containerd via CRI (systemd driver)
 *   …/crio-<64hex>.scope, …/crio-<64hex>             CRI-O (crio-conmon-… is the monitor, not the container)
 *   /machine.slice/libpod-<64hex>.scope, /libpod_parent/libpod-<64hex>   podman (libpod-conmon-… likewise)
 *   /kubepods/<qos>/pod<uid>/<64hex>                 kubelet, cgroupfs driver: runtime unknown
 *   /kubepods.slice/…/kubepods-<qos>-pod<uid_with_underscores>.slice/…   kubelet, systemd driver
 */
import { posix } from 'node:path';

export interface CgroupLine {
  /** Hierarchy id; 0 is the cgroup v2 unified hierarchy. */
  hierarchy: number;
  controllers: string;
  path: string;
}

export interface ContainerRef {
  id: string;
  runtime: string;
  pod_uid?: string;
}

export interface ProcessCgroup {
  /** The container the process is in, or null for a host process. */
  container: ContainerRef | null;
  /** The process's cgroup v2 path (`0::<path>`), or null on a pure cgroup v1 system. */
  v2Path: string | null;
}

export function parseCgroupFile(text: string): CgroupLine[] {
  const out: CgroupLine[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    // The path may itself contain ':', so split on the first two only.
    const a = line.indexOf(':');
    const b = line.indexOf(':', a + 1);
    if (a < 0 || b < 0) continue;
    const hierarchy = Number(line.slice(0, a));
    if (!Number.isInteger(hierarchy)) continue;
    out.push({ hierarchy, controllers: line.slice(a + 1, b), path: line.slice(b + 1) });
  }
  return out;
}

const HEX64 = /^[0-9a-f]{64}$/;
const SCOPED: Array<[RegExp, string]> = [
  [/^docker-([0-9a-f]{64})\.scope$/, 'docker'],
  [/^cri-containerd-([0-9a-f]{64})(?:\.scope)?$/, 'containerd'],
  [/^crio-([0-9a-f]{64})(?:\.scope)?$/, 'cri-o'],
  [/^libpod-([0-9a-f]{64})(?:\.scope)?$/, 'podman'],
];
const POD = /(?:^|-)pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?$/;

/** The container named by one cgroup path, or null. */
export function containerFromPath(path: string): ContainerRef | null {
  const parts = path.split('/').filter((p) => p !== '');
  let found: ContainerRef | null = null;
  let pod_uid: string | undefined;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    const pod = POD.exec(p);
    if (pod && parts.slice(0, i + 1).some((q) => q.startsWith('kubepods'))) {
      pod_uid = pod[1].replaceAll('_', '-');
      continue;
    }
    let hit: ContainerRef | null = null;
    for (const [re, runtime] of SCOPED) {
      const m = re.exec(p);
      if (m) {
        hit = { id: m[1], runtime };
        break;
      }
    }
    if (!hit && HEX64.test(p)) {
      if (parts[i - 1] === 'docker') hit = { id: p, runtime: 'docker' };
      // A bare id under a pod directory: the kubelet's cgroupfs driver does not say which runtime.
      else if (pod_uid !== undefined && POD.test(parts[i - 1] ?? '')) hit = { id: p, runtime: 'cri' };
    }
    if (hit) found = hit;
  }
  if (found && pod_uid !== undefined) found.pod_uid = pod_uid;
  // A process in the pod's own cgroup (no container below it) still belongs to the pod; one in
  // a cgroup beside the containers (crio-conmon-…) does not.
  if (!found && pod_uid !== undefined && POD.test(parts[parts.length - 1] ?? '')) {
    return { id: `pod${pod_uid}`, runtime: 'cri', pod_uid };
  }
  return found;
}

/**
 * The container of a process from its whole cgroup file. The v2 line is asked first; on hybrid
 * and v1 systems any v1 hierarchy carries the same path, so the others are asked after it.
 */
export function containerFromCgroupFile(text: string): ProcessCgroup {
  const lines = parseCgroupFile(text);
  const v2 = lines.find((l) => l.hierarchy === 0 && l.controllers === '');
  const ordered = v2 ? [v2, ...lines.filter((l) => l !== v2)] : lines;
  let container: ContainerRef | null = null;
  for (const l of ordered) {
    container = containerFromPath(l.path);
    if (container) break;
  }
  return { container, v2Path: v2 ? v2.path : null };
}

/** A cgroup2 mount: where it is, and which cgroup its root is, relative to the reader's cgroup namespace. */
export interface Cgroup2Mount {
  mountPoint: string;
  /** `/` for a mount of the namespace's root; `/..` and the like for one above it (the host's, seen from a container). */
  root: string;
}

/** mountinfo writes space, tab, newline and backslash as \ooo octal escapes. */
const unescapeOctal = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));

/** Every cgroup2 mount in `mountinfo` text, in order. */
export function cgroup2MountsFromMountinfo(text: string): Cgroup2Mount[] {
  const out: Cgroup2Mount[] = [];
  for (const line of text.split('\n')) {
    // Fields: id parent major:minor root mountpoint options [optional…] - fstype source superoptions
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const fstype = line.slice(sep + 3).split(' ')[0];
    if (fstype !== 'cgroup2') continue;
    const fields = line.slice(0, sep).split(' ');
    if (fields[3] && fields[4]) out.push({ mountPoint: unescapeOctal(fields[4]), root: unescapeOctal(fields[3]) });
  }
  return out;
}

/** Mount point of the cgroup2 hierarchy from `/proc/self/mountinfo` text, or null. */
export function cgroup2MountFromMountinfo(text: string): string | null {
  return cgroup2MountsFromMountinfo(text)[0]?.mountPoint ?? null;
}

/**
 * A cgroup path as segments, `.` and inner `..` resolved. It may begin with `..`: paths in
 * /proc/<pid>/cgroup are relative to the reader's cgroup namespace, so from inside a container
 * with a private one, other pods' cgroups are at `/../../…`.
 */
export function cgroupSegments(path: string): string[] {
  const out: string[] = [];
  for (const p of path.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..' && out.length > 0 && out[out.length - 1] !== '..') out.pop();
    else out.push(p);
  }
  return out;
}

/** The directory of cgroup `path` under `mount` when the mount's root is an ancestor of it (or it), else null. */
export function cgroupDirUnder(mount: Cgroup2Mount, path: string): string | null {
  const root = cgroupSegments(mount.root);
  const segs = cgroupSegments(path);
  if (root.length > segs.length || root.some((r, i) => segs[i] !== r)) return null;
  const rest = segs.slice(root.length);
  if (rest.includes('..')) return null;
  return rest.length ? posix.join(mount.mountPoint, ...rest) : mount.mountPoint;
}
