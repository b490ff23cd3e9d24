// model.safetensors.index.json: which shard file holds each tensor.
//   { "metadata": { "total_size": bytes }, "weight_map": { "<tensor>": "model-00001-of-00163.safetensors" } }
import { CheckpointError } from '../errors.ts';

export const INDEX_FILE = 'model.safetensors.index.json';

export interface ShardIndex {
  /** metadata.total_size when present: the sum of tensor bytes, informational only. */
  totalSize?: number;
  /** tensor name -> shard file name, in the index's order. */
  weightMap: Map<string, string>;
  /** Distinct shard file names, in order of first appearance. */
  files: string[];
}

export function parseShardIndex(text: string, fileName = INDEX_FILE): ShardIndex {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(fileName, `not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(json)) throw new CheckpointError(fileName, 'index is not a JSON object');
  const map = json.weight_map;
  if (!isObject(map)) throw new CheckpointError(fileName, "'weight_map' is missing or not an object");

  const weightMap = new Map<string, string>();
  for (const [tensor, file] of Object.entries(map)) {
    if (typeof file !== 'string' || file === '') {
      throw new CheckpointError(fileName, `weight_map value ${JSON.stringify(file)} is not a file name`, tensor);
    }
    // Shard names come from a downloaded file; never let one reach outside the checkpoint folder.
    if (file.startsWith('/') || file.split(/[\\/]/).includes('..')) {
      throw new CheckpointError(fileName, `weight_map file '${file}' points outside the checkpoint folder`, tensor);
    }
    weightMap.set(tensor, file);
  }

  const metadata = isObject(json.metadata) ? json.metadata : {};
  const totalSize = typeof metadata.total_size === 'number' ? metadata.total_size : undefined;
  return { totalSize, weightMap, files: [...new Set(weightMap.values())] };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
