// The model options every running subcommand shares (--model, --context-length, --quantize, --quiet), and
// loading through loadModel() with a progress bar.
import { Option, type Command } from 'commander';
import type { Engine } from '../engine.ts';
import { DEFAULT_MODEL_DIR, loadModel } from '../engine-node.ts';
import { InputError } from '../errors.ts';
import type { NodeFallback } from '../gpu/node-webgpu.ts';
import { progressBar } from './progress.ts';

export interface ModelCliOptions {
  model?: string;
  contextLength?: string;
  quantize?: 'fp8';
  quiet?: boolean;
}

export function addModelOptions(cmd: Command): Command {
  return cmd
    .option('--model <dir>', 'Hugging Face checkpoint folder (default: the embedded tiny-v3-trained)')
    .option('--context-length <n>', 'positions the KV cache holds (default: min(max_position_embeddings, 4096))')
    .addOption(new Option('--quantize <format>', 'quantize BF16 linear weights at load').choices(['fp8']))
    .option('--quiet', 'no progress bar');
}

export function parseIntOption(value: string | undefined, option: string, min = 0): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim()) || Number(value) < min) throw new InputError(option, `expected an integer >= ${min}, got '${value}'`);
  return Number(value);
}

export function parseNumberOption(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InputError(option, `expected a number, got '${value}'`);
  return n;
}

export async function loadModelFromCli(opts: ModelCliOptions, fallback: NodeFallback, extra: { prefillChunk?: number } = {}): Promise<Engine> {
  const bar = progressBar(`loading ${opts.model ?? DEFAULT_MODEL_DIR}`, !opts.quiet);
  try {
    return await loadModel(opts.model, {
      fallback,
      contextLength: parseIntOption(opts.contextLength, '--context-length', 1),
      quantize: opts.quantize,
      prefillChunk: extra.prefillChunk,
      onProgress: (done, total, phase) => bar.update(done, total, phase === 'warmup' ? 'compiling pipelines (warm-up step)' : undefined),
    });
  } finally {
    bar.finish();
  }
}
