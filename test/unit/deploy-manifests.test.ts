/**
 * deploy/kubernetes/ against the Kubernetes API schema (offline: kubernetes-models' validators,
 * generated from the API's OpenAPI definitions) and against what droptrace needs to run as a
 * node agent: host PID, the capabilities it uses and no others, read-only host mounts, requests
 * and limits, a liveness probe on the metrics endpoint, arguments the CLI accepts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type IPodMonitor, PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { DaemonSet, type IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { type IService, Service } from 'kubernetes-models/v1/Service';
import { type IServiceAccount, ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { describe, expect, test } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { buildProgram } from '../../src/cli/main.js';
import { parseMetricsAddress } from '../../src/metrics/server.js';

const DIR = new URL('../../deploy/kubernetes/', import.meta.url).pathname;
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } } & Record<string, unknown>;

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/Service': Service,
  'apps/v1/DaemonSet': DaemonSet,
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor,
};

function load(): Array<{ file: string; doc: Manifest }> {
  const out: Array<{ file: string; doc: Manifest }> = [];
  for (const file of readdirSync(DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()) {
    for (const d of parseAllDocuments(readFileSync(join(DIR, file), 'utf8'))) {
      if (d.errors.length) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
      out.push({ file, doc: d.toJS() as Manifest });
    }
  }
  return out;
}

function validate(doc: Manifest): void {
  const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
  if (!Model) throw new Error(`no schema for ${doc.apiVersion} ${doc.kind}`);
  new Model(doc as never).validate();
}

const manifests = load();
interface Kinds {
  DaemonSet: IDaemonSet;
  Service: IService;
  ServiceAccount: IServiceAccount;
  PodMonitor: IPodMonitor;
}

function find<K extends keyof Kinds>(kind: K): Kinds[K] {
  const m = manifests.find((x) => x.doc.kind === kind);
  if (!m) throw new Error(`no ${kind} in deploy/kubernetes`);
  return structuredClone(m.doc) as never as Kinds[K];
}

function podOf(ds: IDaemonSet) {
  const pod = ds.spec?.template.spec;
  if (!pod) throw new Error('DaemonSet without a pod spec');
  return pod;
}

describe('deploy/kubernetes', () => {
  test.each(manifests.map((m) => [`${m.file}: ${m.doc.kind} ${m.doc.metadata.name}`, m.doc] as const))('%s is valid', (_name, doc) => {
    expect(() => validate(doc)).not.toThrow();
    if (doc.kind !== 'Namespace') expect(doc.metadata.namespace).toBe('droptrace');
  });

  test('the validator does reject a broken object (a DaemonSet without containers, a port that is a word)', () => {
    const ds = find('DaemonSet') as unknown as { spec: { template: { spec: { containers?: unknown } } } };
    delete ds.spec.template.spec.containers;
    expect(() => validate(ds as never)).toThrow(/containers/);
    const svc = find('Service') as unknown as { spec: { ports: Array<{ port: unknown }> } };
    svc.spec.ports[0].port = 'metrics';
    expect(() => validate(svc as never)).toThrow(/port/);
  });

  test('the DaemonSet: host PID, only the capabilities droptrace uses, read-only host mounts, requests and limits', () => {
    const ds = find('DaemonSet');
    const pod = podOf(ds);
    expect(ds.spec?.selector.matchLabels).toEqual(ds.spec?.template.metadata?.labels);
    expect(pod.hostPID).toBe(true);
    expect(pod.hostNetwork).toBeUndefined();
    expect(pod.containers).toHaveLength(1);
    const c = pod.containers[0];
    expect(c.image).toBe(`droptrace:${VERSION}`);
    const sc = c.securityContext;
    expect(sc?.privileged).toBe(false);
    expect(sc?.allowPrivilegeEscalation).toBe(false);
    expect(sc?.readOnlyRootFilesystem).toBe(true);
    expect(sc?.capabilities?.drop).toEqual(['ALL']);
    expect([...(sc?.capabilities?.add ?? [])].sort()).toEqual(['BPF', 'NET_ADMIN', 'PERFMON', 'SYSLOG', 'SYS_ADMIN', 'SYS_PTRACE']);
    const volumes = new Map((pod.volumes ?? []).map((v) => [v.name, v]));
    const hostPaths: string[] = [];
    for (const m of c.volumeMounts ?? []) {
      const v = volumes.get(m.name);
      expect(v, `volume ${m.name}`).toBeDefined();
      if (!v?.hostPath) continue;
      hostPaths.push(v.hostPath.path);
      expect(m.readOnly, `${m.mountPath} is a host path: read-only`).toBe(true);
    }
    expect(hostPaths.sort()).toEqual(['/run/containerd', '/sys/kernel/btf']);
    for (const r of ['cpu', 'memory']) {
      expect(c.resources?.requests?.[r], `requests.${r}`).toBeDefined();
      expect(c.resources?.limits?.[r], `limits.${r}`).toBeDefined();
    }
  });

  test("the DaemonSet's arguments are droptrace's: serve on the pod's address, the CRI socket in the mounted directory", () => {
    const c = podOf(find('DaemonSet')).containers[0];
    const [verb, ...args] = c.args ?? [];
    expect(verb).toBe('serve');
    const serve = buildProgram().commands.find((x) => x.name() === 'serve');
    const known = new Set(serve?.options.map((o) => o.long));
    const flags = new Map(args.map((a) => a.split('=', 2) as [string, string]));
    for (const f of flags.keys()) expect(known.has(f), `serve knows ${f}`).toBe(true);
    const addr = parseMetricsAddress(flags.get('--metrics') ?? '');
    expect(addr).toEqual({ host: '0.0.0.0', port: 9469 });
    const cri = flags.get('--cri-socket') ?? '';
    expect((c.volumeMounts ?? []).some((m) => cri.startsWith(`${m.mountPath}/`))).toBe(true);
    expect(c.ports?.find((p) => p.name === 'metrics')?.containerPort).toBe(addr.port);
    expect(c.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    // records name the node, not the pod's own hostname
    expect(c.env?.find((e) => e.name === 'DROPTRACE_HOST')?.valueFrom?.fieldRef?.fieldPath).toBe('spec.nodeName');
  });

  test('the Service and the PodMonitor reach the metrics port of the DaemonSet pods', () => {
    const labels = find('DaemonSet').spec?.template.metadata?.labels;
    const svc = find('Service');
    expect(svc.spec?.clusterIP).toBe('None');
    expect(svc.spec?.selector).toEqual(labels);
    expect(svc.spec?.ports?.[0].targetPort).toBe('metrics');
    const pm = find('PodMonitor');
    expect(pm.spec.selector.matchLabels).toEqual(labels);
    expect(pm.spec.podMetricsEndpoints?.[0]).toMatchObject({ port: 'metrics', path: '/metrics' });
    expect(find('ServiceAccount').automountServiceAccountToken).toBe(false);
  });
});
