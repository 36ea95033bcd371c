/**
 * `check --allow` takes a reason of this kernel (NO_SOCKET), a layer (netfilter) or a
 * layer/component (qdisc/tbf) as the classification table names them. Anything else can never
 * match a drop, so it is refused rather than silently allowing nothing.
 */
import { LOCATION_PREFIXES, LOCATIONS, REASON_PREFIXES, REASONS, type ReasonRow, UNKNOWN_REASON } from '../classify/table.js';
import { DroptraceError } from '../errors.js';
import { excerpt } from '../output/escape.js';

interface LayerVocabulary {
  components: Set<string>;
  /** A component taken from the event ($proto, $qdisc, …): any name can occur. */
  open: boolean;
}

function vocabulary(): Map<string, LayerVocabulary> {
  const layers = new Map<string, LayerVocabulary>();
  const add = (layer: string, component: string | undefined) => {
    const v = layers.get(layer) ?? { components: new Set<string>(), open: false };
    layers.set(layer, v);
    if (component === undefined) return;
    if (component.startsWith('$')) v.open = true;
    else v.components.add(component);
  };
  const row = (r: ReasonRow) => {
    add(r.layer, r.component);
    for (const v of r.variants ?? []) add(r.layer, v.component);
    for (const at of Object.values(r.at ?? {})) add(at.layer ?? r.layer, at.component);
  };
  for (const r of Object.values(REASONS)) row(r);
  for (const r of Object.values(LOCATIONS)) row(r);
  for (const [, r] of [...LOCATION_PREFIXES, ...REASON_PREFIXES]) row(r);
  row(UNKNOWN_REASON);
  return layers;
}

const COMPONENT = /^[a-z0-9][a-z0-9_.-]*$/;

/** Throws ERR_DROPTRACE_OPTION_ALLOW for a value no drop can have. `isReason` asks the kernel's BTF. */
export function checkAllow(values: readonly string[], isReason: (name: string) => boolean): void {
  const layers = vocabulary();
  for (const value of values) {
    if (/^[A-Z0-9_]+$/.test(value) && isReason(value)) continue;
    const [layer, component, ...rest] = value.split('/');
    const v = layers.get(layer);
    if (v && component === undefined) continue;
    if (v && rest.length === 0 && component !== undefined && (v.components.has(component) || (v.open && COMPONENT.test(component))))
      continue;
    const known = [...layers.keys()].sort().join(', ');
    throw new DroptraceError(
      'ERR_DROPTRACE_OPTION_ALLOW',
      `--allow "${excerpt(value)}" names no reason of this kernel, no layer and no layer/component`,
      v
        ? `components of ${layer}: ${[...v.components].sort().join(', ')}${v.open ? ' (and names from the event)' : ''}`
        : `give a reason (\`droptrace reasons\` lists them, e.g. NO_SOCKET), a layer (${known}) or layer/component (qdisc/tbf)`,
    );
  }
}
