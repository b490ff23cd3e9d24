// The model options every running subcommand shares (--model, --revision, --context-length, --quantize,
// --gpu-memory, --quiet), and loading through loadModel() with a progress bar. The options are checked first,
// --context-length against config.json, so that a mistake is reported before a GPU device is made or a weight is read. A --model
// that is not a folder but a Hugging Face id (owner/name[@revision]) is resolved through the hub cache first,
// downloading what is missing (src/hub/resolve.ts).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import type { Engine } from '../engine.ts';
import { DEFAULT_MODEL_DIR } from '../default-model.ts';
import { parseByteSize } from '../byte-size.ts';
import { InputError } from '../errors.ts';
import type { NodeFallback } from '../gpu/node-webgpu.ts';
import type { QuantizeFormat } from '../model/weight-plan.ts';
import { progressBar } from './progress.ts';

export interface ModelCliOptions {
  model?: string;
  revision?: string;
  /** Set by resolveModelDir() when --model named a Hugging Face model: its `owner/name` (a name for the model). */
  hubModel?: string;
  contextLength?: string;
  /** Only on the commands that add it (addCacheTokensOption). */
  cacheTokens?: string;
  quantize?: QuantizeFormat;
  gpuMemory?: string;
  quiet?: boolean;
}

export function addModelOptions(cmd: Command): Command {
  return cmd
    .option('-m, --model <dir|id>', 'checkpoint folder, or Hugging Face model id owner/name[@revision] fetched into the hub cache (default: the embedded tiny-v3-trained)')
    .option('--revision <rev>', 'branch, tag or commit of a Hugging Face model id (default: main)')
    .option('-c, --context-length <n>', 'positions the KV cache holds (default: min(max_position_embeddings, 4096))')
    .addOption(new Option('--quantize <format>', 'quantize linear and expert weights at load: fp8 (BF16 ones, to FP8 blocks) or q4 (4-bit, 32-input groups)').choices(['fp8', 'q4']))
    .option('--gpu-memory <size>', 'GPU memory to use (4GB, 6G, 512MiB): routed experts beyond it stay in host memory, a cache of them on the GPU')
    .option('--quiet', 'no progress bar');
}

/** --cache-tokens, on the commands that can hold more than one sequence; `byDefault` says what they get without it. */
export function addCacheTokensOption(cmd: Command, byDefault: string): Command {
  return cmd.option('--cache-tokens <n>', `rows of the latent cache, every sequence together (default: ${byDefault})`);
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

/**
 * The folder to load: modelDir(), with a Hugging Face model id resolved through the hub cache (downloading what
 * is missing, with a progress bar). The resolved folder is written back to `opts.model`, so the command's later
 * checks and its load find it on disk and ask the hub nothing more.
 */
export async function resolveModelDir(opts: Pick<ModelCliOptions, 'model' | 'revision' | 'quiet' | 'hubModel'>): Promise<string> {
  const dir = modelDir(opts);
  if (opts.model === undefined) {
    if (opts.revision !== undefined) throw new InputError('--revision', 'applies to a Hugging Face model id given with --model');
    return dir;
  }
  const { resolveHubModel } = await import('./pull.ts');
  const resolved = await resolveHubModel(dir, opts);
  if (resolved.repo === undefined && opts.revision !== undefined) {
    throw new InputError('--revision', `applies to a Hugging Face model id, and '${dir}' is a path`);
  }
  opts.model = resolved.dir;
  opts.revision = undefined;
  opts.hubModel ??= resolved.repo;
  return resolved.dir;
}

/** --model, --context-length and --gpu-memory, checked; the context against config.json's max_position_embeddings. */
export async function checkModelOptions(opts: ModelCliOptions): Promise<{ dir: string; contextLength: number | undefined; cacheTokens: number | undefined; gpuMemory: number | undefined }> {
  const contextLength = parseIntOption(opts.contextLength, '--context-length', 1);
  const cacheTokens = parseIntOption(opts.cacheTokens, '--cache-tokens', 1);
  const dir = await resolveModelDir(opts);
  const gpuMemory = opts.gpuMemory === undefined ? undefined : parseByteSize(opts.gpuMemory, '--gpu-memory');
  const max = contextLength === undefined ? undefined : await configNumber(dir, 'max_position_embeddings');
  if (contextLength !== undefined && max !== undefined && contextLength > max) {
    throw new InputError('--context-length', `${contextLength} is more than this model's max_position_embeddings (${max})`);
  }
  return { dir, contextLength, cacheTokens, gpuMemory };
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
  prefixCache?: boolean;
  /** Without --cache-tokens: room for this many full-context sequences, as far as memory allows (ModelLoadOptions.cacheSequences). */
  cacheSequences?: number;
}

export async function loadModelFromCli(opts: ModelCliOptions, fallback: NodeFallback, extra: LoadExtras = {}): Promise<Engine> {
  const { dir, contextLength, cacheTokens, gpuMemory } = await checkModelOptions(opts);
  // Imported here, not at the top: the engine (Dawn, the tokenizers, the kernels) takes longer to load than
  // the rest of the CLI, and --help, --version and argument errors need none of it.
  const { loadModel } = await import('../engine-node.ts');
  const bar = progressBar(`loading ${dir}`, !opts.quiet);
  try {
    return await loadModel(dir, {
      fallback,
      contextLength: contextLength ?? extra.contextLength,
      cacheTokens,
      cacheSequences: extra.cacheSequences,
      quantize: opts.quantize,
      gpuMemory,
      prefillChunk: extra.prefillChunk,
      mtp: extra.mtp,
      prefixCache: extra.prefixCache,
      // 'download' runs just ahead of 'upload' on a local disk: the bar shows the upload.
      onProgress: (done, total, phase) => phase !== 'download' && bar.update(done, total, phase === 'compile' ? 'compiling pipelines (warm-up step)' : undefined),
    });
  } catch (e) {
    // The library names its option cache-tokens; here it is the flag.
    if (e instanceof InputError && e.argument === 'cache-tokens') throw new InputError('--cache-tokens', e.message.slice('cache-tokens: '.length));
    throw e;
  } finally {
    bar.finish();
  }
}
