/** The pipeline as every tracing verb opens it: the user's selection, diagnostics to stderr. */

import { escapeTerminal as esc } from '../output/escape.js';
import { Pipeline, type PipelineOptions } from '../pipeline.js';
import type { Selection } from '../selection.js';

export function openPipeline(
  selection: Selection,
  err: NodeJS.WritableStream,
  options: Omit<PipelineOptions, keyof Selection> = {},
): Promise<Pipeline> {
  return Pipeline.open({ ...selection, ...options, log: (line) => err.write(`droptrace: ${esc(line)}\n`) });
}
