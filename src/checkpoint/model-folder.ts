// A model folder as the engine sees it: config.json parsed and validated, the checkpoint's headers read
// and checked against the config's tensor slots (slot-check.ts), nothing else loaded yet. Browser-safe
// (all I/O through the FolderSource).
import { parseModelConfig, type ModelConfig } from '../config/model-config.ts';
import { CheckpointError, ConfigError } from '../errors.ts';
import { parseJsonText } from '../json-text.ts';
import type { FolderSource } from './byte-source.ts';
import { openCheckpoint, type Checkpoint } from './checkpoint.ts';
import { checkTensorSlots } from './slot-check.ts';

export interface ModelFolder {
  folder: FolderSource;
  config: ModelConfig;
  checkpoint: Checkpoint;
}

export async function openModelFolder(folder: FolderSource): Promise<ModelFolder> {
  const configFile = `${folder.name}/config.json`;
  if (!(await folder.exists('config.json'))) throw new CheckpointError(folder.name, 'no config.json in this folder');
  const json = parseJsonText(await folder.readText('config.json'), (detail) => {
    throw new ConfigError('(root)', detail, configFile);
  });
  const config = parseModelConfig(json, configFile);
  const checkpoint = await openCheckpoint(folder);
  try {
    checkTensorSlots(checkpoint, config);
  } catch (e) {
    await checkpoint.close();
    throw e;
  }
  return { folder, config, checkpoint };
}
