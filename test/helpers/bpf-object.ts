/**
 * The BPF object's own BTF, read with bpftool: an independent view of struct dt_event (clang's BPF
 * target), to check against the addon's offsetof table (the host compiler).
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BPF_OBJECT = fileURLToPath(new URL('../../bpf/.output/droptrace.bpf.o', import.meta.url));

interface BtfType {
  id: number;
  kind: string;
  name?: string;
  size?: number;
  type_id?: number;
  nr_elems?: number;
  members?: { name: string; type_id: number; bits_offset: number }[];
}

export interface StructLayout {
  size: number;
  fields: Record<string, [offset: number, size: number]>;
}

export function bpfStructLayout(name: string, object = BPF_OBJECT): StructLayout {
  const { types } = JSON.parse(execFileSync('bpftool', ['btf', 'dump', 'file', object, '-j'], { encoding: 'utf8' })) as {
    types: BtfType[];
  };
  const byId = new Map(types.map((t) => [t.id, t]));
  const sizeOf = (id: number): number => {
    const t = byId.get(id);
    if (!t) throw new Error(`BTF type ${id} missing`);
    if (t.kind === 'ARRAY') return (t.nr_elems ?? 0) * sizeOf(t.type_id ?? 0);
    if (t.kind === 'TYPEDEF' || t.kind === 'CONST' || t.kind === 'VOLATILE') return sizeOf(t.type_id ?? 0);
    if (t.size !== undefined) return t.size;
    throw new Error(`no size for BTF ${t.kind} ${t.name}`);
  };
  const struct = types.find((t) => t.kind === 'STRUCT' && t.name === name);
  if (!struct?.members) throw new Error(`struct ${name} not in ${object}`);
  const fields: StructLayout['fields'] = {};
  for (const m of struct.members) fields[m.name] = [m.bits_offset / 8, sizeOf(m.type_id)];
  return { size: struct.size ?? 0, fields };
}
