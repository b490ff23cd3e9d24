// loadModel() for Node: a checkpoint folder on disk (or a Hugging Face model id, resolved through the hub
// cache), a WebGPU device through Dawn (SwiftShader on machines without a GPU driver), and the engine over them.
import { nodeFolder } from './checkpoint/sources/node-file.ts';
import { Engine, type EngineOptions } from './engine.ts';
import type { Gpu } from './gpu/device.ts';
import { createNodeGpu, type NodeGpuOptions } from './gpu/node-webgpu.ts';
import { DEFAULT_MODEL_DIR } from './default-model.ts';
import { defaultMemoryBudget } from './memory-available.ts';
import { resolveModel, type ResolveModelOptions } from './hub/resolve.ts';
import { adapterProfile } from './model/deepseek-model.ts';
import { cachedTunedProfile } from './tune/tune-cache-node.ts';

export { DEFAULT_MODEL_DIR };

export interface LoadModelOptions extends EngineOptions, NodeGpuOptions {
  /** An existing device to load onto (it stays yours to destroy); default: a new one the engine owns. */
  gpu?: Gpu;
  /** For a Hugging Face model id: revision, cache folder, endpoint, token, offline mode, download progress. */
  hub?: ResolveModelOptions;
  /**
   * The folder of `deepseek-webgpu tune` records (default: tuneCacheDir(), ~/.cache/deepseek-webgpu/tune); the
   * record for this adapter and driver, if any, gives the launch profile unless `profile` is set. true: the default
   * folder (as the browser's option); false: ignore it.
   */
  tuneCache?: string | boolean;
}

/**
 * Loads the model in `dir` (default: the embedded tiny-v3-trained) onto the GPU. A `dir` that does not exist
 * and reads `owner/name[@revision]` is a Hugging Face model id: its files are fetched into the hub cache
 * first (see resolveModel).
 */
export async function loadModel(dir: string = DEFAULT_MODEL_DIR, options: LoadModelOptions = {}): Promise<Engine> {
  const folder = (await resolveModel(dir, options.hub)).dir;
  const gpu = options.gpu ?? (await createNodeGpu({ fallback: options.fallback, poll: options.poll }));
  // A CPU adapter's "GPU memory" is system memory: refuse plans that cannot fit what is available now. A GPU's
  // memory is not visible to WebGPU: no budget, only the per-buffer limits refuse.
  const memoryBudget = options.memoryBudget ?? defaultMemoryBudget(gpu.adapterInfo.isFallbackAdapter)?.bytes;
  try {
    const tuned = options.profile || options.tuneCache === false ? null : await cachedTunedProfile(gpu, adapterProfile(gpu), typeof options.tuneCache === 'string' ? options.tuneCache : undefined);
    return await Engine.load(gpu, nodeFolder(folder), { ...options, profile: options.profile ?? tuned ?? undefined, memoryBudget, ownsGpu: !options.gpu });
  } catch (e) {
    if (!options.gpu) gpu.destroy();
    throw e;
  }
}
