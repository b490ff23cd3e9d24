// The model options every running subcommand shares (--model, --context-length, --quantize, --quiet), and
// loading through loadModel() with a progress bar. The options are checked first, --context-length against
// config.json, so that a mistake is reported before a GPU device is made or a weight is read.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import type { Engine } from '../engine.ts';
import { DEFAULT_MODEL_DIR } from '../default-model.ts';
import { InputError } from '../errors.ts';
import type { NodeFallback } from '../gpu/node-webgpu.ts';
import type { QuantizeFormat } from '../model/weight-plan.ts';
import { progressBar } from './progress.ts';

export interface ModelCliOptions {
  model?: string;
  contextLength?: string;
  quantize?: QuantizeFormat;
  quiet?: boolean;
}

export function addModelOptions(cmd: Command): Command {
  return cmd
    .option('-m, --model <dir>', 'Hugging Face checkpoint folder (default: the embedded tiny-v3-trained)')
    .option('-c, --context-length <n>', 'positions the KV cache holds (default: min(max_position_embeddings, 4096))')
    .addOption(new Option('--quantize <format>', 'quantize linear and expert weights at load: fp8 (BF16 ones, to FP8 blocks) or q4 (4-bit, 32-input groups)').choices(['fp8', 'q4']))
    .option('--quiet', 'no progress bar');
}

/** `value` is a number when it is the option's default (commander then shows it as a number in --help). */
export function parseIntOption(value: string | number | undefined, option: string, min = 0): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(String(value).trim()) || !Number.isSafeInteger(Number(value)) || Number(value) < min) {
    throw new InputError(option, `expected an integer >= ${min}, got '${value}'`);
  }
  return Number(value);
}

export function parseNumberOption(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InputError(option, `expected a number, got '${value}'`);
  return n;
}

/** The model folder: --model, or the embedded model. An empty --model (an unset shell variable) is refused, not read as '.'. */
export function modelDir(opts: Pick<ModelCliOptions, 'model'>): string {
  if (opts.model === undefined) return DEFAULT_MODEL_DIR;
  if (opts.model.trim() === '') throw new InputError('--model', 'is empty: give a checkpoint folder, or leave --model out for the embedded tiny-v3-trained');
  return opts.model;
}

/** --model and --context-length, checked; the context against config.json's max_position_embeddings. */
export async function checkModelOptions(opts: ModelCliOptions): Promise<{ dir: string; contextLength: number | undefined }> {
  const dir = modelDir(opts);
  const contextLength = parseIntOption(opts.contextLength, '--context-length', 1);
  const max = contextLength === undefined ? undefined : await configNumber(dir, 'max_position_embeddings');
  if (contextLength !== undefined && max !== undefined && contextLength > max) {
    throw new InputError('--context-length', `${contextLength} is more than this model's max_position_embeddings (${max})`);
  }
  return { dir, contextLength };
}

async function configNumber(dir: string, field: string): Promise<number | undefined> {
  const value = (await readConfigJson(dir))?.[field];
  return typeof value === 'number' ? value : undefined;
}

/**
 * config.json as it stands, for checks made before loading; undefined when it cannot be read or parsed, which
 * the loader then reports properly.
 */
export async function readConfigJson(dir: string): Promise<Record<string, unknown> | undefined> {
  try {
    const json: unknown = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    return typeof json === 'object' && json !== null && !Array.isArray(json) ? (json as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** What a subcommand sets on the load besides the shared options; `contextLength` applies without --context-length. */
export interface LoadExtras {
  prefillChunk?: number;
  contextLength?: number;
  mtp?: boolean;
}

export async function loadModelFromCli(opts: ModelCliOptions, fallback: NodeFallback, extra: LoadExtras = {}): Promise<Engine> {
  const { dir, contextLength } = await checkModelOptions(opts);
  // Imported here, not at the top: the engine (Dawn, the tokenizers, the kernels) takes longer to load than
  // the rest of the CLI, and --help, --version and argument errors need none of it.
  const { loadModel } = await import('../engine-node.ts');
  const bar = progressBar(`loading ${dir}`, !opts.quiet);
  try {
    return await loadModel(dir, {
      fallback,
      contextLength: contextLength ?? extra.contextLength,
      quantize: opts.quantize,
      prefillChunk: extra.prefillChunk,
      mtp: extra.mtp,
      onProgress: (done, total, phase) => bar.update(done, total, phase === 'warmup' ? 'compiling pipelines (warm-up step)' : undefined),
    });
  } finally {
    bar.finish();
  }
}
