/** `droptrace containers`: what droptrace sees, and how it would attribute a drop to each. */
import { Command } from 'commander';
import { ContainerIndex, defaultSources } from '../containers/index.js';
import { hostVeths } from '../containers/veth.js';
import { escapeTerminal as esc, escapeJsonText } from '../output/escape.js';
import { writeOut } from './stdout.js';

export function containersCommand(io: { out: NodeJS.WritableStream; err: NodeJS.WritableStream }): Command {
  return new Command('containers')
    .description('list the containers (and named network namespaces) droptrace sees: name, id, runtime, netns, addresses, veth')
    .option('--json', 'one JSON array')
    .option('--cri-socket <path>', 'the CRI runtime socket that names pods (default: containerd or CRI-O at the usual path)')
    .action(async (opts: { json?: boolean; criSocket?: string }) => {
      const index = new ContainerIndex({ pollMs: 0, sources: defaultSources(process.env, { criSocket: opts.criSocket }) });
      index.on('warning', (e) => io.err.write(`droptrace: warning [${e.code}]: ${esc(e.message)}\n`));
      await index.refresh();
      const rows = await Promise.all(
        index
          .list()
          .sort((a, b) => Number(b.running) - Number(a.running) || a.name.localeCompare(b.name))
          .map(async (c) => ({
            name: c.name,
            id: c.id,
            runtime: c.runtime,
            image: c.image,
            // namespace/name of the Kubernetes pod, for a pod's sandbox and its containers
            pod: c.pod !== undefined ? `${c.namespace ?? ''}/${c.pod}` : null,
            pod_uid: c.pod_uid ?? null,
            running: c.running,
            pid: c.pid,
            netns: c.netns,
            cgroup_id: c.cgroupId === null ? null : String(c.cgroupId),
            addresses: c.addresses,
            veth: c.pid !== null && c.running ? await hostVeths(c.pid) : [],
          })),
      );
      if (opts.json) {
        writeOut(io.out, escapeJsonText(`${JSON.stringify(rows)}\n`));
        return;
      }
      const table = [['NAME', 'ID', 'RUNTIME', 'POD', 'STATE', 'PID', 'NETNS', 'ADDRESSES', 'VETH']];
      // names, images, ids, pods and veth names come from container engines and their root users
      for (const r of rows) {
        table.push(
          [
            r.name,
            r.id.slice(0, 12),
            r.runtime,
            r.pod ?? '-',
            r.running ? 'running' : 'stopped',
            String(r.pid ?? '-'),
            String(r.netns ?? '-'),
            r.addresses.join(',') || '-',
            r.veth.map((v) => `${v.inner}<>${v.host}`).join(',') || '-',
          ].map(esc),
        );
      }
      const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
      writeOut(
        io.out,
        `${table
          .map((row) =>
            row
              .map((cell, i) => cell.padEnd(widths[i]))
              .join('  ')
              .trimEnd(),
          )
          .join('\n')}\n`,
      );
    });
}
