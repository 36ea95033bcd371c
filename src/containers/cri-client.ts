/**
 * A client for the Kubernetes Container Runtime Interface (runtime.v1 RuntimeService) over the
 * runtime's unix socket: containerd's CRI plugin, CRI-O. The messages are those of
 * proto/cri-runtime-v1.proto, loaded with snake_case keys as the API names them.
 *
 * Every call has a deadline: a runtime that hangs must not hang the tracer's refresh.
 *
 * @grpc/grpc-js and @grpc/proto-loader are loaded on the first call, not at import: they are a
 * large part of start-up (about 100 ms here), and a host without a CRI runtime never needs them.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type * as Grpc from '@grpc/grpc-js';
import { DroptraceError } from '../errors.js';
import { packageRoot } from '../package-root.js';

/** Where kubelet finds the runtime by default, in the order tried. */
export const DEFAULT_CRI_SOCKETS = ['/run/containerd/containerd.sock', '/var/run/crio/crio.sock'];
export const CRI_UNREACHABLE = 'ERR_DROPTRACE_CRI_UNREACHABLE';
export const CRI_CALL = 'ERR_DROPTRACE_CRI_CALL';

const PROTO = join(packageRoot, 'proto', 'cri-runtime-v1.proto');
const CALL_TIMEOUT_MS = 5000;

export type Labels = Record<string, string>;

export interface CriPodSandboxMetadata {
  name: string;
  uid: string;
  namespace: string;
  attempt: number;
}

export interface CriPodSandbox {
  id: string;
  metadata: CriPodSandboxMetadata | null;
  state: 'SANDBOX_READY' | 'SANDBOX_NOTREADY';
  created_at: string;
  labels: Labels;
  annotations: Labels;
}

export interface CriPodSandboxStatus extends CriPodSandbox {
  network: { ip: string; additional_ips: Array<{ ip: string }> } | null;
}

export interface CriContainer {
  id: string;
  pod_sandbox_id: string;
  metadata: { name: string; attempt: number } | null;
  image: { image: string } | null;
  image_ref: string;
  state: 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';
  created_at: string;
  labels: Labels;
  annotations: Labels;
}

export interface CriContainerEvent {
  container_id: string;
  container_event_type: 'CONTAINER_CREATED_EVENT' | 'CONTAINER_STARTED_EVENT' | 'CONTAINER_STOPPED_EVENT' | 'CONTAINER_DELETED_EVENT';
  pod_sandbox_status: CriPodSandboxStatus | null;
}

/** The verbose `info` of a status answer: containerd and CRI-O both give the process id under "info". */
export interface CriVerboseInfo {
  pid: number | null;
  /** The network namespace path from the OCI spec, when the runtime gives it. */
  netnsPath: string | null;
}

type Unary = (req: unknown, meta: Grpc.Metadata, opts: Grpc.CallOptions, cb: (err: Grpc.ServiceError | null, res: unknown) => void) => void;
type ServiceClient = Grpc.Client & Record<string, Unary | ((req: unknown) => Grpc.ClientReadableStream<unknown>)>;

/** gRPC status codes used here (fixed by the gRPC protocol, so known before the library loads). */
const STATUS = { CANCELLED: 1, DEADLINE_EXCEEDED: 4, UNIMPLEMENTED: 12, UNAVAILABLE: 14 } as const;

interface Runtime {
  grpc: typeof Grpc;
  Service: Grpc.ServiceClientConstructor;
}

let runtime: Promise<Runtime> | undefined;

function loadRuntime(): Promise<Runtime> {
  runtime ??= Promise.all([import('@grpc/grpc-js'), import('@grpc/proto-loader')]).then(([grpc, protoLoader]) => {
    const definition = grpc.loadPackageDefinition(
      protoLoader.loadSync(PROTO, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true }),
    );
    const v1 = (definition.runtime as Grpc.GrpcObject).v1 as Grpc.GrpcObject;
    return { grpc, Service: v1.RuntimeService as Grpc.ServiceClientConstructor };
  });
  return runtime;
}

/** Reads the pid and netns path out of a verbose status's `info` map; anything malformed is null. */
export function parseVerboseInfo(info: Labels | undefined): CriVerboseInfo {
  const out: CriVerboseInfo = { pid: null, netnsPath: null };
  const raw = info?.info;
  if (!raw) return out;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return out;
  }
  if (typeof v !== 'object' || v === null) return out;
  const o = v as { pid?: unknown; runtimeSpec?: { linux?: { namespaces?: Array<{ type?: unknown; path?: unknown }> } } };
  if (typeof o.pid === 'number' && Number.isInteger(o.pid) && o.pid > 0) out.pid = o.pid;
  const ns = o.runtimeSpec?.linux?.namespaces;
  if (Array.isArray(ns)) {
    const net = ns.find((n) => n?.type === 'network');
    if (typeof net?.path === 'string' && net.path.startsWith('/')) out.netnsPath = net.path;
  }
  return out;
}

export class CriClient {
  readonly socketPath: string;
  private client: Promise<{ grpc: typeof Grpc; client: ServiceClient }> | undefined;
  private closed = false;

  constructor(socketPath: string) {
    this.socketPath = socketPath;
  }

  private connect(): Promise<{ grpc: typeof Grpc; client: ServiceClient }> {
    this.client ??= loadRuntime().then(({ grpc, Service }) => {
      const client = new Service(`unix:${this.socketPath}`, grpc.credentials.createInsecure(), {
        // a runtime that is gone should fail the call, not queue it
        'grpc.enable_retries': 0,
        'grpc.max_receive_message_length': 64 << 20,
      }) as ServiceClient;
      if (this.closed) client.close();
      return { grpc, client };
    });
    return this.client;
  }

  /** The first default socket that exists, or null (no CRI runtime on this node). */
  static defaultSocket(): string | null {
    return DEFAULT_CRI_SOCKETS.find((p) => existsSync(p)) ?? null;
  }

  close(): void {
    this.closed = true;
    // a client that never loaded has nothing to close (its load error went to the call that needed it)
    this.client?.then(({ client }) => client.close()).catch(() => {});
  }

  /** Any unary RuntimeService call by its proto name, with snake_case request and answer. */
  async call<T>(method: string, request: object, timeoutMs = CALL_TIMEOUT_MS): Promise<T> {
    const { grpc, client } = await this.connect();
    const fn = client[method] as Unary | undefined;
    if (typeof fn !== 'function') throw new Error(`no CRI method ${method}`);
    return new Promise<T>((resolve, reject) => {
      fn.call(client, request, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err) reject(this.error(method, err, grpc));
        else resolve(res as T);
      });
    });
  }

  version(): Promise<{ runtime_name: string; runtime_version: string; runtime_api_version: string }> {
    return this.call('Version', { version: 'v1' });
  }

  async listPodSandbox(): Promise<CriPodSandbox[]> {
    return (await this.call<{ items: CriPodSandbox[] }>('ListPodSandbox', {})).items;
  }

  async listContainers(): Promise<CriContainer[]> {
    return (await this.call<{ containers: CriContainer[] }>('ListContainers', {})).containers;
  }

  async podSandboxStatus(id: string): Promise<{ status: CriPodSandboxStatus; info: CriVerboseInfo }> {
    const r = await this.call<{ status: CriPodSandboxStatus; info: Labels }>('PodSandboxStatus', { pod_sandbox_id: id, verbose: true });
    return { status: r.status, info: parseVerboseInfo(r.info) };
  }

  async containerStatus(id: string): Promise<{ status: CriContainer; info: CriVerboseInfo }> {
    const r = await this.call<{ status: CriContainer; info: Labels }>('ContainerStatus', { container_id: id, verbose: true });
    return { status: r.status, info: parseVerboseInfo(r.info) };
  }

  /**
   * The runtime's container event stream. `onEnd` gets the error that ended it; an error whose
   * code is ERR_DROPTRACE_CRI_CALL with grpcCode UNIMPLEMENTED means the runtime has no stream
   * (containerd before 1.7). Returns a function that cancels the stream.
   */
  events(onEvent: (ev: CriContainerEvent) => void, onEnd: (err: DroptraceError | null) => void): () => void {
    let ended = false;
    let stream: Grpc.ClientReadableStream<CriContainerEvent> | undefined;
    const end = (err: DroptraceError | null) => {
      if (ended) return;
      ended = true;
      onEnd(err);
    };
    this.connect().then(
      ({ grpc, client }) => {
        if (ended) return;
        stream = (client.GetContainerEvents as (req: unknown) => Grpc.ClientReadableStream<CriContainerEvent>)({});
        stream.on('data', onEvent);
        stream.on('error', (e: Grpc.ServiceError) => end(e.code === STATUS.CANCELLED ? null : this.error('GetContainerEvents', e, grpc)));
        stream.on('end', () => end(null));
      },
      (e: unknown) => end(new DroptraceError(CRI_CALL, `CRI client: ${String(e)}`, undefined, { cause: e })),
    );
    return () => {
      ended = true;
      stream?.cancel();
    };
  }

  private error(method: string, err: Grpc.ServiceError, grpc: typeof Grpc): DroptraceError {
    const unreachable = err.code === STATUS.UNAVAILABLE || err.code === STATUS.DEADLINE_EXCEEDED;
    const what = err.details || grpc.status[err.code];
    const e = unreachable
      ? new DroptraceError(
          CRI_UNREACHABLE,
          `the CRI runtime at ${this.socketPath} does not answer (${what})`,
          'give the runtime socket with --cri-socket (containerd: /run/containerd/containerd.sock, CRI-O: /var/run/crio/crio.sock)',
          { cause: err },
        )
      : new DroptraceError(CRI_CALL, `CRI ${method} at ${this.socketPath}: ${what}`, undefined, { cause: err });
    (e as DroptraceError & { grpcCode?: number }).grpcCode = err.code;
    return e;
  }
}

export function grpcCodeOf(e: unknown): number | undefined {
  return (e as { grpcCode?: number } | null)?.grpcCode;
}

export const GRPC_UNIMPLEMENTED = STATUS.UNIMPLEMENTED;
