/** The NDJSON schema documents every key of every record, and no record carries a key it does not list. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

type Node = { [k: string]: unknown };
const schema = JSON.parse(readFileSync(new URL('../../schema/droptrace-event.schema.json', import.meta.url), 'utf8')) as Node;
const defs = schema.$defs as Record<string, Node>;

/** Every object schema with properties, by its path in the file. */
function objects(node: unknown, path: string, out: Array<[string, Node]> = []): Array<[string, Node]> {
  if (Array.isArray(node)) {
    for (const [i, n] of node.entries()) objects(n, `${path}[${i}]`, out);
  } else if (node && typeof node === 'object') {
    const n = node as Node;
    if (n.properties) out.push([path, n]);
    for (const [k, v] of Object.entries(n)) objects(v, `${path}/${k}`, out);
  }
  return out;
}

const documented = (p: Node): boolean => {
  if (typeof p.description === 'string' && p.description.length > 0) return true;
  const ref = typeof p.$ref === 'string' ? defs[p.$ref.replace('#/$defs/', '')] : undefined;
  return ref !== undefined && documented(ref);
};

describe('schema/droptrace-event.schema.json', () => {
  const all = objects(schema, '');

  it.each(all.map(([path, n]) => [path, n] as const))('%s is closed', (_path, n) => {
    expect(n.additionalProperties).toBe(false);
  });

  it.each(all.flatMap(([path, n]) => Object.entries(n.properties as Record<string, Node>).map(([k, p]) => [`${path}.${k}`, p] as const)))(
    '%s is documented',
    (_key, p) => {
      expect(documented(p)).toBe(true);
    },
  );

  it('has one definition of evidence, used by drops and findings', () => {
    expect(defs.evidence?.additionalProperties).toBe(false);
    const props = (name: string) => (defs[name]?.properties ?? {}) as Record<string, Node>;
    expect(props('drop').evidence?.$ref).toBe('#/$defs/evidence');
    expect(props('finding').evidence?.$ref).toBe('#/$defs/evidence');
  });
});
