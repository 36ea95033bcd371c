/**
 * A real Prometheus (Debian's `prometheus`) for e2e tests: private config, storage and listen
 * address under one temporary directory, scraping one target every second, stopped by PID.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../docker/attribution-lab.js';

export interface PromSample {
  metric: Record<string, string>;
  value: number;
}

export class Prometheus {
  private exited: string | null = null;

  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly pid: number,
  ) {}

  /** Starts Prometheus scraping http://<target>/metrics every second; resolves once /-/ready answers. */
  static async start(target: string): Promise<Prometheus> {
    const dir = mkdtempSync('/tmp/dtk8-prom-');
    const port = await freePort();
    const config = join(dir, 'prometheus.yml');
    writeFileSync(
      config,
      [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 900ms',
        'scrape_configs:',
        '  - job_name: droptrace',
        '    static_configs:',
        `      - targets: ['${target}']`,
        '',
      ].join('\n'),
    );
    const logFd = openSync(join(dir, 'prometheus.log'), 'a');
    const child = spawn(
      'prometheus',
      [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
      { stdio: ['ignore', logFd, logFd] },
    );
    closeSync(logFd);
    if (child.pid === undefined) throw new Error('prometheus did not start');
    const p = new Prometheus(dir, port, child.pid);
    child.on('exit', (code, signal) => {
      p.exited = `prometheus exited (${code ?? signal})`;
    });
    child.unref();
    const until = Date.now() + 30_000;
    for (;;) {
      if (p.exited) {
        const log = p.log();
        p.stop();
        throw new Error(`${p.exited}\n${log.slice(-2000)}`);
      }
      try {
        if ((await fetch(`http://127.0.0.1:${port}/-/ready`)).ok) return p;
      } catch {}
      if (Date.now() > until) {
        p.stop();
        throw new Error('prometheus was not ready within 30 s');
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  log(): string {
    try {
      return readFileSync(join(this.dir, 'prometheus.log'), 'utf8');
    } catch {
      return '';
    }
  }

  /** An instant PromQL query through the HTTP API. */
  async query(promql: string): Promise<PromSample[]> {
    const res = await fetch(`http://127.0.0.1:${this.port}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as {
      status: string;
      error?: string;
      data?: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> };
    };
    if (body.status !== 'success' || !body.data) throw new Error(`PromQL ${promql}: ${body.error ?? res.status}`);
    return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  }

  /** Health of the scrape target as Prometheus sees it (`up`). */
  async targetUp(): Promise<boolean> {
    const r = await this.query('up{job="droptrace"}');
    return r.length === 1 && r[0].value === 1;
  }

  stop(): void {
    try {
      process.kill(this.pid, 'SIGTERM');
    } catch {}
    const until = Date.now() + 5000;
    const alive = () => {
      try {
        process.kill(this.pid, 0);
        const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
      } catch {
        return false;
      }
    };
    while (alive() && Date.now() < until) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    if (alive()) {
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch {}
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
