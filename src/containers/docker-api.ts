/**
 * A small Docker Engine API client over its unix socket, with Node's own http: no CLI, no
 * dependency. Unversioned paths, so the same client talks to dockerd and to podman's
 * Docker-compatible service. Every failure is a DroptraceError ERR_DROPTRACE_CONTAINER_API.
 */
import { existsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { DroptraceError } from '../errors.js';

export const API_ERROR = 'ERR_DROPTRACE_CONTAINER_API';
export const DOCKER_SOCKET = '/var/run/docker.sock';
export const PODMAN_SOCKET = '/run/podman/podman.sock';

export interface DockerApiOptions {
  socketPath: string;
  /** docker or podman: what the containers it lists are called in events. */
  runtime?: string;
  /** Per request, connect to last byte (default 3 s). */
  timeoutMs?: number;
}

export interface ApiNetwork {
  IPAddress?: string;
  GlobalIPv6Address?: string;
}

/** The part of `GET /containers/json` we read. */
export interface ApiContainerSummary {
  Id: string;
  Names?: string[];
  Image?: string;
  State?: string;
  Labels?: Record<string, string> | null;
  NetworkSettings?: { Networks?: Record<string, ApiNetwork> | null } | null;
}

/** The part of `GET /containers/{id}/json` we read. */
export interface ApiContainerInspect {
  Id: string;
  Name?: string;
  Image?: string;
  Config?: { Image?: string; Labels?: Record<string, string> | null } | null;
  State?: { Running?: boolean; Pid?: number; Status?: string } | null;
  NetworkSettings?: {
    IPAddress?: string;
    GlobalIPv6Address?: string;
    Networks?: Record<string, ApiNetwork> | null;
  } | null;
}

/** One message of the `/events` stream (fields we use). */
export interface ApiEvent {
  Type?: string;
  Action?: string;
  status?: string;
  id?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  time?: number;
}

export type EventFilters = Record<string, string[]>;

/** The socket DOCKER_HOST names (unix://… only), else the default one. */
export function dockerSocketFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const host = env.DOCKER_HOST;
  if (host === undefined || host === '') return DOCKER_SOCKET;
  if (host.startsWith('unix://')) return host.slice('unix://'.length);
  throw new DroptraceError(
    API_ERROR,
    `DOCKER_HOST=${host} is not a unix socket; droptrace only talks to a local engine`,
    'unset DOCKER_HOST or set it to unix:///path/to/docker.sock',
  );
}

/**
 * Splits a stream of newline-delimited JSON into objects, whatever the chunk boundaries.
 * Returns the unfinished tail that must be prepended to the next chunk.
 */
export function splitJsonLines(buffer: string, onObject: (obj: unknown) => void): string {
  let start = 0;
  for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n', start)) {
    const line = buffer.slice(start, nl).trim();
    start = nl + 1;
    if (line !== '') onObject(JSON.parse(line));
  }
  return buffer.slice(start);
}

export class DockerApi {
  readonly socketPath: string;
  readonly runtime: string;
  readonly timeoutMs: number;

  constructor(opts: DockerApiOptions) {
    this.socketPath = opts.socketPath;
    this.runtime = opts.runtime ?? 'docker';
    this.timeoutMs = opts.timeoutMs ?? 3000;
  }

  /** The engine DOCKER_HOST or the default socket points at. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): DockerApi {
    return new DockerApi({ socketPath: dockerSocketFromEnv(env), runtime: 'docker' });
  }

  /** podman's compatible service, when its socket exists. */
  static podman(socketPath = PODMAN_SOCKET): DockerApi | null {
    return existsSync(socketPath) ? new DockerApi({ socketPath, runtime: 'podman' }) : null;
  }

  async ping(): Promise<void> {
    const body = await this.request('GET', '/_ping');
    if (body.trim() !== 'OK') throw this.error(`unexpected answer to /_ping: ${body.slice(0, 80)}`);
  }

  async listContainers(opts: { all?: boolean } = {}): Promise<ApiContainerSummary[]> {
    const body = await this.request('GET', `/containers/json${opts.all ? '?all=1' : ''}`);
    return this.parse(body, '/containers/json') as ApiContainerSummary[];
  }

  /** null when the container does not exist (it may have been removed since it was listed). */
  async inspect(idOrName: string): Promise<ApiContainerInspect | null> {
    const path = `/containers/${encodeURIComponent(idOrName)}/json`;
    const body = await this.request('GET', path, { allow404: true });
    return body === null ? null : (this.parse(body, path) as ApiContainerInspect);
  }

  /**
   * Streams `/events`. `onEnd` is called once when the stream ends for any reason other than
   * stop() (the engine stopped, the socket went away), with the error when there was one.
   * `since` (unix seconds) replays what happened from then on: events that occur while the
   * connection is still being made, or while it was down, are not lost.
   */
  events(
    filters: EventFilters,
    onEvent: (ev: ApiEvent) => void,
    onEnd?: (err?: DroptraceError) => void,
    opts: { since?: number } = {},
  ): () => void {
    let stopped = false;
    let ended = false;
    const end = (err?: DroptraceError) => {
      if (ended || stopped) return;
      ended = true;
      onEnd?.(err);
    };
    const since = opts.since !== undefined ? `&since=${Math.floor(opts.since)}` : '';
    const path = `/events?filters=${encodeURIComponent(JSON.stringify(filters))}${since}`;
    const req = httpRequest({ socketPath: this.socketPath, path, method: 'GET' });
    // Only the connection gets a deadline: an idle event stream is normal.
    const connectTimer = setTimeout(() => {
      req.destroy(this.error(`no answer from ${path} within ${this.timeoutMs} ms`));
    }, this.timeoutMs);
    req.on('response', (res) => {
      clearTimeout(connectTimer);
      if (res.statusCode !== 200) {
        res.resume();
        end(this.error(`${path} answered HTTP ${res.statusCode}`));
        req.destroy();
        return;
      }
      res.setEncoding('utf8'); // a multi-byte character split across chunks is reassembled
      let tail = '';
      res.on('data', (chunk: string) => {
        try {
          tail = splitJsonLines(tail + chunk, (obj) => onEvent(obj as ApiEvent));
        } catch (e) {
          end(this.error(`malformed event from ${path}: ${(e as Error).message}`, e));
          req.destroy();
        }
      });
      res.on('end', () => end());
      res.on('error', (e) => end(this.wrap(e, path)));
    });
    req.on('error', (e) => {
      clearTimeout(connectTimer);
      end(e instanceof DroptraceError ? e : this.wrap(e, path));
    });
    req.end();
    return () => {
      stopped = true;
      clearTimeout(connectTimer);
      req.destroy();
    };
  }

  private request(method: string, path: string, opts: { allow404: true }): Promise<string | null>;
  private request(method: string, path: string): Promise<string>;
  private request(method: string, path: string, opts: { allow404?: boolean } = {}): Promise<string | null> {
    return new Promise((resolve, reject) => {
      const req = httpRequest({ socketPath: this.socketPath, path, method, timeout: this.timeoutMs }, (res) => {
        res.setEncoding('utf8');
        let body = '';
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('error', (e) => reject(this.wrap(e, path)));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status === 404 && opts.allow404) return resolve(null);
          if (status < 200 || status >= 300) {
            let detail = body.trim();
            try {
              detail = (JSON.parse(body) as { message?: string }).message ?? detail;
            } catch {}
            return reject(this.error(`${method} ${path} answered HTTP ${status}: ${detail}`));
          }
          resolve(body);
        });
      });
      // `timeout` is socket inactivity; a wall-clock deadline as well, so a trickling engine cannot hang us.
      const deadline = setTimeout(() => req.destroy(this.error(`${method} ${path} took longer than ${this.timeoutMs} ms`)), this.timeoutMs);
      req.on('timeout', () => req.destroy(this.error(`${method} ${path}: no answer within ${this.timeoutMs} ms`)));
      req.on('error', (e) => reject(e instanceof DroptraceError ? e : this.wrap(e, path)));
      req.on('close', () => clearTimeout(deadline));
      req.end();
    });
  }

  private parse(body: string, path: string): unknown {
    try {
      return JSON.parse(body);
    } catch (e) {
      throw this.error(`malformed JSON from ${path}`, e);
    }
  }

  private wrap(e: Error, path: string): DroptraceError {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'the socket does not exist'
        : code === 'ECONNREFUSED'
          ? 'nothing listens on the socket'
          : code === 'EACCES'
            ? 'permission denied'
            : e.message;
    return this.error(`${path}: ${why}`, e);
  }

  private error(message: string, cause?: unknown): DroptraceError {
    return new DroptraceError(
      API_ERROR,
      `${this.runtime} API at unix://${this.socketPath}: ${message}`,
      this.runtime === 'podman'
        ? 'start podman.socket, or ignore: droptrace falls back to scanning /proc'
        : 'start dockerd or set DOCKER_HOST=unix:///path/to/docker.sock; without it droptrace names containers by id from /proc',
      cause === undefined ? undefined : { cause },
    );
  }
}
