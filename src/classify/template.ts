/**
 * Hint templates, compiled once per table row so that an event costs only string joins.
 * `{name}` is a value; `[ … ]` is optional and disappears when any value inside it is missing.
 * A missing value outside brackets prints as `?`: the table avoids that, but a hint must never throw.
 */

export type Getter<C> = (ctx: C) => string | undefined;
export type Render<C> = (ctx: C) => string;

type Node<C> = { kind: 'text'; text: string } | { kind: 'value'; get: Getter<C> } | { kind: 'group'; nodes: Node<C>[] };

/** Names a template mentions, for tests and for the container suffix rule. */
export function placeholdersOf(template: string): string[] {
  return [...template.matchAll(/\{([a-z_]+)\}/g)].map((m) => m[1] as string);
}

export function compileTemplate<C>(template: string, getters: Readonly<Record<string, Getter<C>>>): Render<C> {
  let i = 0;
  const parse = (closing: boolean): Node<C>[] => {
    const nodes: Node<C>[] = [];
    let text = '';
    const flush = () => {
      if (text) nodes.push({ kind: 'text', text });
      text = '';
    };
    while (i < template.length) {
      const ch = template[i] as string;
      if (ch === '{') {
        const end = template.indexOf('}', i);
        if (end < 0) throw new Error(`unclosed { in hint template: ${template}`);
        const name = template.slice(i + 1, end);
        const get = getters[name];
        if (!get) throw new Error(`unknown placeholder {${name}} in hint template: ${template}`);
        flush();
        nodes.push({ kind: 'value', get });
        i = end + 1;
      } else if (ch === '[') {
        flush();
        i++;
        nodes.push({ kind: 'group', nodes: parse(true) });
      } else if (ch === ']') {
        if (!closing) throw new Error(`unbalanced ] in hint template: ${template}`);
        i++;
        flush();
        return nodes;
      } else {
        text += ch;
        i++;
      }
    }
    if (closing) throw new Error(`unclosed [ in hint template: ${template}`);
    flush();
    return nodes;
  };
  const nodes = parse(false);

  // undefined from a group means "leave the group out"
  const renderGroup = (group: Node<C>[], ctx: C): string | undefined => {
    let out = '';
    for (const n of group) {
      if (n.kind === 'text') out += n.text;
      else if (n.kind === 'value') {
        const v = n.get(ctx);
        if (v === undefined) return undefined;
        out += v;
      } else out += renderGroup(n.nodes, ctx) ?? '';
    }
    return out;
  };

  if (nodes.every((n) => n.kind === 'text')) {
    const fixed = nodes.map((n) => (n.kind === 'text' ? n.text : '')).join('');
    return () => fixed;
  }
  return (ctx) => {
    let out = '';
    for (const n of nodes) {
      if (n.kind === 'text') out += n.text;
      else if (n.kind === 'value') out += n.get(ctx) ?? '?';
      else out += renderGroup(n.nodes, ctx) ?? '';
    }
    return out;
  };
}
