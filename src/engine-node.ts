// loadModel() for Node: a checkpoint folder on disk, a WebGPU device through Dawn (SwiftShader on machines
// without a GPU driver), and the engine over them.
import { nodeFolder } from './checkpoint/sources/node-file.ts';
import { Engine, type EngineOptions } from './engine.ts';
import type { Gpu } from './gpu/device.ts';
import { createNodeGpu, type NodeGpuOptions } from './gpu/node-webgpu.ts';
import { DEFAULT_MODEL_DIR } from './default-model.ts';
import { defaultMemoryBudget } from './memory-available.ts';
import { adapterProfile } from './model/deepseek-model.ts';
import { cachedTunedProfile } from './tune/tune-cache-node.ts';

export { DEFAULT_MODEL_DIR };

export interface LoadModelOptions extends EngineOptions, NodeGpuOptions {
  /** An existing device to load onto (it stays yours to destroy); default: a new one the engine owns. */
  gpu?: Gpu;
  /**
   * The folder of `deepseek-webgpu tune` records (default: tuneCacheDir(), ~/.cache/deepseek-webgpu/tune); the
   * record for this adapter and driver, if any, gives the launch profile unless `profile` is set. false: ignore it.
   */
  tuneCache?: string | false;
}

/** Loads the model in `dir` (default: the embedded tiny-v3-trained) onto the GPU. */
export async function loadModel(dir: string = DEFAULT_MODEL_DIR, options: LoadModelOptions = {}): Promise<Engine> {
  const gpu = options.gpu ?? (await createNodeGpu({ fallback: options.fallback, poll: options.poll }));
  // A CPU adapter's "GPU memory" is system memory: refuse plans that cannot fit what is available now. A GPU's
  // memory is not visible to WebGPU: no budget, only the per-buffer limits refuse.
  const memoryBudget = options.memoryBudget ?? defaultMemoryBudget(gpu.adapterInfo.isFallbackAdapter)?.bytes;
  try {
    const tuned = options.profile || options.tuneCache === false ? null : await cachedTunedProfile(gpu, adapterProfile(gpu), options.tuneCache);
    return await Engine.load(gpu, nodeFolder(dir), { ...options, profile: options.profile ?? tuned ?? undefined, memoryBudget, ownsGpu: !options.gpu });
  } catch (e) {
    if (!options.gpu) gpu.destroy();
    throw e;
  }
}
