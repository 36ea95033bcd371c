/**
 * The tracepoints a process has BPF programs attached to now, from its link fds' fdinfo
 * (`link_type`, `tp_name`): what the kernel says is attached, not what the process says.
 */
import { readdirSync, readFileSync } from 'node:fs';

export function attachedTracepoints(pid: number): string[] {
  const out: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    let info = '';
    try {
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // closed meanwhile
    }
    const tp = /^tp_name:\s*(\S+)$/m.exec(info);
    if (/^link_id:/m.test(info) && tp) out.push(tp[1] as string);
  }
  return out.sort();
}
