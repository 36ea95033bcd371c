/** The pipeline as every tracing verb opens it: the user's selection, diagnostics to stderr. */

import type { ListenSynMode } from '../listen-watch.js';
import { escapeTerminal as esc } from '../output/escape.js';
import { Pipeline, type PipelineOptions } from '../pipeline.js';
import type { Selection } from '../selection.js';

export function openPipeline(
  selection: Selection & { listenSyn?: ListenSynMode },
  err: NodeJS.WritableStream,
  options: Omit<PipelineOptions, keyof Selection | 'listenSyn'> = {},
): Promise<Pipeline> {
  return Pipeline.open({
    ...selection,
    ...options,
    listenSyn: selection.listenSyn,
    log: (line) => err.write(`droptrace: ${esc(line)}\n`),
  });
}
