// A model folder as the engine sees it: config.json parsed and validated, the checkpoint's headers read
// and checked, nothing else loaded yet. Browser-safe (all I/O through the FolderSource).
import { parseModelConfig, type ModelConfig } from '../config/model-config.ts';
import { CheckpointError, ConfigError } from '../errors.ts';
import type { FolderSource } from './byte-source.ts';
import { openCheckpoint, type Checkpoint } from './checkpoint.ts';

export interface ModelFolder {
  folder: FolderSource;
  config: ModelConfig;
  checkpoint: Checkpoint;
}

export async function openModelFolder(folder: FolderSource): Promise<ModelFolder> {
  const configFile = `${folder.name}/config.json`;
  if (!(await folder.exists('config.json'))) throw new CheckpointError(folder.name, 'no config.json in this folder');
  let json: unknown;
  try {
    json = JSON.parse(await folder.readText('config.json'));
  } catch (e) {
    throw new ConfigError('(root)', `not valid JSON: ${(e as Error).message}`, configFile);
  }
  const config = parseModelConfig(json, configFile);
  const checkpoint = await openCheckpoint(folder);
  return { folder, config, checkpoint };
}
