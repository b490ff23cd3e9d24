// A fixture folder opened with its golden outputs and loaded on the GPU, closed in one call.
import type { Checkpoint } from '../../src/checkpoint/checkpoint.ts';
import { openModelFolder, type ModelFolder } from '../../src/checkpoint/model-folder.ts';
import { nodeFolder, openCheckpointDir } from '../../src/checkpoint/sources/node-file.ts';
import type { Gpu } from '../../src/gpu/device.ts';
import { DeepseekModel, type ModelLoadOptions } from '../../src/model/deepseek-model.ts';

export interface FixtureModel {
  folder: ModelFolder;
  golden: Checkpoint;
  model: DeepseekModel;
  close(): Promise<void>;
}

export async function loadFixtureModel(gpu: Gpu, dir: string, options: ModelLoadOptions): Promise<FixtureModel> {
  const folder = await openModelFolder(nodeFolder(dir));
  const golden = await openCheckpointDir(dir, { file: 'golden.safetensors' });
  const model = await DeepseekModel.load(gpu, folder, options);
  return {
    folder,
    golden,
    model,
    close: async () => {
      model.dispose();
      await folder.checkpoint.close();
      await golden.close();
    },
  };
}
