/**
 * The metrics endpoint: `GET /metrics` for Prometheus, `GET /healthz` for a liveness probe that
 * must not cost a scrape. Loopback by default; any other address only when asked for by name.
 */
import { createServer, type Server } from 'node:http';
import { isIP } from 'node:net';
import { DroptraceError } from '../errors.js';

export const DEFAULT_METRICS_ADDRESS = '127.0.0.1:9469';
const DEFAULT_PORT = 9469;

export interface ListenAddress {
  host: string;
  port: number;
}

function badAddress(spec: string, why: string): DroptraceError {
  return new DroptraceError(
    'ERR_DROPTRACE_OPTION_METRICS_ADDRESS',
    `--metrics ${JSON.stringify(spec)}: ${why}`,
    'give host:port with an IP address, e.g. 127.0.0.1:9469, [::1]:9469, or 0.0.0.0:9469 to listen on every interface',
  );
}

/**
 * `9469`, `127.0.0.1:9469`, `[::1]:9469`, `0.0.0.0:9469`. A bare port listens on loopback: an
 * address other than loopback must be written out.
 */
export function parseMetricsAddress(spec: string): ListenAddress {
  const s = spec.trim();
  let host = '127.0.0.1';
  let portText = s;
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 0 || s[end + 1] !== ':') throw badAddress(spec, 'an IPv6 address is written [address]:port');
    host = s.slice(1, end);
    portText = s.slice(end + 2);
    if (isIP(host) !== 6) throw badAddress(spec, `${host} is not an IPv6 address`);
  } else if (s.includes(':')) {
    const at = s.lastIndexOf(':');
    host = s.slice(0, at);
    portText = s.slice(at + 1);
    if (isIP(host) !== 4) throw badAddress(spec, `${host || '(empty)'} is not an IPv4 address (IPv6 goes in brackets)`);
  }
  if (portText === '') portText = String(DEFAULT_PORT);
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw badAddress(spec, `${portText} is not a port (1 to 65535)`);
  }
  return { host, port };
}

export interface MetricsEndpoint {
  scrape(): Promise<string>;
  readonly contentType: string;
}

export class MetricsServer {
  private constructor(
    private readonly server: Server,
    readonly address: ListenAddress,
  ) {}

  /** Listens, or fails with a coded error: the address in use, or not one this host may bind. */
  static async listen(addr: ListenAddress, endpoint: MetricsEndpoint): Promise<MetricsServer> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
        return;
      }
      if (path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('droptrace: /metrics or /healthz\n');
        return;
      }
      endpoint.scrape().then(
        (text) => res.writeHead(200, { 'content-type': endpoint.contentType }).end(text),
        (e: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`droptrace: ${String(e)}\n`),
      );
    });
    // a scraper that never finishes its request must not hold a socket for ever
    server.headersTimeout = 10_000;
    server.requestTimeout = 10_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => reject(listenError(addr, e)));
      server.listen(addr.port, addr.host, () => resolve());
    });
    const bound = server.address();
    const port = typeof bound === 'object' && bound ? bound.port : addr.port;
    return new MetricsServer(server, { host: addr.host, port });
  }

  get url(): string {
    return `http://${this.address.host.includes(':') ? `[${this.address.host}]` : this.address.host}:${this.address.port}/metrics`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

function listenError(addr: ListenAddress, e: NodeJS.ErrnoException): DroptraceError {
  const where = `${addr.host.includes(':') ? `[${addr.host}]` : addr.host}:${addr.port}`;
  if (e.code === 'EADDRINUSE') {
    return new DroptraceError(
      'ERR_DROPTRACE_METRICS_ADDRESS_IN_USE',
      `cannot serve metrics on ${where}: the address is in use`,
      'another process listens there (another droptrace?): give another port with --metrics',
      { cause: e },
    );
  }
  if (e.code === 'EADDRNOTAVAIL' || e.code === 'EACCES' || e.code === 'EPERM') {
    return new DroptraceError(
      'ERR_DROPTRACE_METRICS_ADDRESS_NOT_ALLOWED',
      `cannot serve metrics on ${where}: ${e.code === 'EADDRNOTAVAIL' ? 'no interface of this host has that address' : 'not permitted'}`,
      'use an address of this host (127.0.0.1 by default, the pod or node IP, or 0.0.0.0)',
      { cause: e },
    );
  }
  return new DroptraceError('ERR_DROPTRACE_METRICS_LISTEN', `cannot serve metrics on ${where}: ${e.message}`, undefined, { cause: e });
}
