/**
 * Hint templates, compiled once per table row so that an event costs only its values' look-ups.
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

  if (nodes.every((n) => n.kind === 'text')) {
    const fixed = nodes.map((n) => (n.kind === 'text' ? n.text : '')).join('');
    return () => fixed;
  }

  // every value the template names, in order; nodes refer to them by index
  const gets: Getter<C>[] = [];
  const index = new Map<Node<C>, number>();
  const collect = (list: Node<C>[]) => {
    for (const n of list) {
      if (n.kind === 'value') {
        index.set(n, gets.length);
        gets.push(n.get);
      } else if (n.kind === 'group') collect(n.nodes);
    }
  };
  collect(nodes);
  const values: (string | undefined)[] = gets.map(() => undefined);

  // undefined from a group means "leave the group out"
  const renderGroup = (group: Node<C>[]): string | undefined => {
    let out = '';
    for (const n of group) {
      if (n.kind === 'text') out += n.text;
      else if (n.kind === 'value') {
        const v = values[index.get(n) as number];
        if (v === undefined) return undefined;
        out += v;
      } else out += renderGroup(n.nodes) ?? '';
    }
    return out;
  };
  const render = (): string => {
    let out = '';
    for (const n of nodes) {
      if (n.kind === 'text') out += n.text;
      else if (n.kind === 'value') out += values[index.get(n) as number] ?? '?';
      else out += renderGroup(n.nodes) ?? '';
    }
    return out;
  };

  // A storm's events give a template the same values event after event: the previous hint is
  // returned, the same string. Nothing is joined, and the writer recognises it by identity
  // (src/output/ndjson.ts) instead of comparing a fresh string's characters.
  let last: string | undefined;
  return (ctx) => {
    let same = last !== undefined;
    for (let k = 0; k < gets.length; k++) {
      const v = (gets[k] as Getter<C>)(ctx);
      if (v !== values[k]) {
        values[k] = v;
        same = false;
      }
    }
    if (!same) last = render();
    return last as string;
  };
}
