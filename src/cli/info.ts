// `deepseek-webgpu info`: which adapter, backend, features and limits this machine gives the engine.

import { stat } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import type { GlobalOptions } from './global-options.ts';
import type { Gpu } from '../gpu/device.ts';
import type { NodeGpuPlan } from '../gpu/node-webgpu.ts';
import { parseIntOption, resolveModelDir } from './load-model.ts';
import type { FolderSource } from '../checkpoint/byte-source.ts';
import { HubError } from '../errors.ts';
import { parseByteSize } from '../byte-size.ts';
import type { QuantizeFormat } from '../model/weight-plan.ts';

/** Optional features the kernels use when present. */
const FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'] as const;
/** Limits the engine sizes buffers and dispatches from; byte-valued ones also print in MiB/GiB. */
const LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
] as const;
const BYTE_LIMITS = new Set<string>(['maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize']);

export interface InfoReport {
  adapter: { vendor: string; architecture: string; device: string; description: string; isFallbackAdapter: boolean };
  backend: string | null;
  driver: string;
  features: Record<(typeof FEATURES)[number], boolean>;
  otherFeatures: string[];
  limits: Record<string, number>;
  /** The launch profile a load on this adapter uses (docs/launch-profiles.md): a `tune` record's when one applies. */
  launch: { profile: string; tuneRecord: string | null };
}

export function register(program: Command): void {
  program
    .command('info')
    .description('show the WebGPU adapter, backend, features and limits')
    .option('--json', 'print as JSON')
    .option('-m, --model <dir|id>', 'the checkpoint folder or Hugging Face model id to summarize: config, parameter counts, memory plan (default: the embedded tiny-v3-trained)')
    .option('--revision <rev>', 'branch, tag or commit of a Hugging Face model id (default: main)')
    .option('-c, --context-length <n>', 'context for the memory plan (default: min(max_position_embeddings, 4096))')
    .addOption(new Option('--quantize <format>', 'plan BF16 linear weights quantized at load').choices(['fp8', 'q4']))
    .option('--buffer-limit <bytes>', 'plan with buffers of at most this many bytes (below the adapter limits)')
    .option('--gpu-memory <size>', 'plan the expert offload under this GPU budget (4GB, 6G, 512MiB): resident part, expert cache, host part')
    .action(async (options: { json?: boolean; model?: string; revision?: string; contextLength?: string; quantize?: QuantizeFormat; bufferLimit?: string; gpuMemory?: string }, command: Command) => {
      const { fallback } = command.optsWithGlobals<GlobalOptions>();
      // Loaded on use so that the other subcommands' start-up (and --help) does not pay for the model code.
      const [{ createNodeGpu, planNodeGpu }, { defaultMemoryBudget }, { defaultAttentionWorkgroups }, { formatModelInfo, modelInfo }] = await Promise.all([
        import('../gpu/node-webgpu.ts'),
        import('../memory-available.ts'),
        import('../model/deepseek-model.ts'),
        import('./model-info.ts'),
      ]);
      const plan = planNodeGpu(fallback);
      const contextLength = parseIntOption(options.contextLength, '--context-length', 1);
      const cap = parseIntOption(options.bufferLimit, '--buffer-limit', 4);
      const gpuMemory = options.gpuMemory === undefined ? undefined : parseByteSize(options.gpuMemory, '--gpu-memory');
      const dir = await infoSource(options); // the default model's too: it is what generate runs
      const gpu = await createNodeGpu({ fallback });
      try {
        const budget = defaultMemoryBudget(gpu.adapterInfo.isFallbackAdapter) ?? null;
        const model = await modelInfo(dir, contextLength, { quantize: options.quantize, limits: gpu.limits, bufferLimit: cap, budget, gpuMemory, attentionWorkgroups: defaultAttentionWorkgroups(gpu) });
        const report = infoReport(gpu, plan, await launchFacts(gpu));
        const text = options.json ? JSON.stringify(model ? { ...report, model } : report, null, 2) : [formatInfo(report), ...(model ? [formatModelInfo(model)] : [])].join('\n\n');
        process.stdout.write(`${text}\n`);
      } finally {
        gpu.destroy();
      }
    });
}

/**
 * What info reads: a folder, or for a Hugging Face id the cached snapshot when it is complete, else the
 * repository read in place over HTTP (config.json and the shard headers: info needs no weights, so nothing
 * is downloaded). Offline, only the cache.
 */
async function infoSource(options: { model?: string; revision?: string }): Promise<string | FolderSource> {
  const [{ looksLikeRepoId }, { remoteModelFolder, resolveModel }, { hubSettings }] = await Promise.all([
    import('../hub/repo-id.ts'),
    import('../hub/resolve.ts'),
    import('../hub/settings.ts'),
  ]);
  const model = options.model;
  if (model === undefined || !looksLikeRepoId(model) || (await stat(model).catch(() => undefined))) return resolveModelDir(options);
  try {
    return (await resolveModel(model, { revision: options.revision, offline: true })).dir;
  } catch (e) {
    if (!(e instanceof HubError) || hubSettings().offline) throw e;
  }
  return remoteModelFolder(model, { revision: options.revision });
}

export function infoReport(gpu: Gpu, plan: NodeGpuPlan, launch: InfoReport['launch']): InfoReport {
  const { vendor, architecture, device, description, isFallbackAdapter } = gpu.adapterInfo;
  const limits: Record<string, number> = {};
  for (const name of LIMITS) limits[name] = gpu.limits[name];
  if (gpu.adapterInfo.subgroupMinSize !== undefined) limits.subgroupMinSize = gpu.adapterInfo.subgroupMinSize;
  if (gpu.adapterInfo.subgroupMaxSize !== undefined) limits.subgroupMaxSize = gpu.adapterInfo.subgroupMaxSize;
  return {
    adapter: { vendor, architecture, device, description, isFallbackAdapter },
    backend: gpu.adapterInfo.backend ?? null,
    driver: plan.reason,
    features: Object.fromEntries(FEATURES.map((f) => [f, gpu.features.includes(f)])) as InfoReport['features'],
    otherFeatures: gpu.features.filter((f) => !(FEATURES as readonly string[]).includes(f)),
    limits,
    launch,
  };
}

export function formatInfo(r: InfoReport): string {
  const section = (title: string, rows: [string, string][]) => {
    const width = Math.max(...rows.map(([k]) => k.length)) + 2;
    return [title, ...rows.map(([k, v]) => `  ${k.padEnd(width)}${v}`)].join('\n');
  };
  const limitRows = Object.entries(r.limits).map(([name, value]): [string, string] => {
    const text = String(value).padStart(12);
    return [name, BYTE_LIMITS.has(name) ? `${text}  (${bytes(value)})` : text];
  });
  return [
    section('Adapter', [
      ['vendor', r.adapter.vendor || '-'],
      ['architecture', r.adapter.architecture || '-'],
      ['device', r.adapter.device || '-'],
      ['description', r.adapter.description || '-'],
      ['fallback', r.adapter.isFallbackAdapter ? 'yes (software adapter, runs on the CPU)' : 'no'],
      ['backend', r.backend ?? 'unknown'],
      ['driver', r.driver],
    ]),
    section('Features', [
      ...Object.entries(r.features).map(([f, on]): [string, string] => [f, on ? 'yes' : 'no']),
      ['other', r.otherFeatures.join(' ') || '-'],
    ]),
    section('Limits', limitRows),
    section('Launch', [
      ['profile', r.launch.profile],
      ['tune record', r.launch.tuneRecord ?? 'none (run `deepseek-webgpu tune` to measure one)'],
    ]),
  ].join('\n\n');
}

function bytes(n: number): string {
  if (n >= 2 ** 30 && n % 2 ** 30 === 0) return `${n / 2 ** 30} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(n % 2 ** 20 ? 1 : 0)} MiB`;
  return `${(n / 1024).toFixed(n % 1024 ? 1 : 0)} KiB`;
}

/** The profile loadModel() would launch with on this adapter, and the `tune` record it would take it from. */
async function launchFacts(gpu: Gpu): Promise<InfoReport['launch']> {
  const [{ adapterProfile }, { cachedTunedProfile, tuneRecordPath }, { adapterIdentity }] = await Promise.all([
    import('../model/deepseek-model.ts'),
    import('../tune/tune-cache-node.ts'),
    import('../tune/tune-record.ts'),
  ]);
  const base = adapterProfile(gpu);
  const tuned = await cachedTunedProfile(gpu, base);
  return { profile: (tuned ?? base).name, tuneRecord: tuned ? tuneRecordPath(adapterIdentity(gpu.adapterInfo)) : null };
}
