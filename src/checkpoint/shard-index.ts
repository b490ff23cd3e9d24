// model.safetensors.index.json: which shard file holds each tensor.
//   { "metadata": { "total_size": bytes }, "weight_map": { "<tensor>": "model-00001-of-00163.safetensors" } }
// Every shard name is checked here, once, for all folder sources (see shard-name.ts).
import { CheckpointError, excerpt } from '../errors.ts';
import { parseJsonText } from '../json-text.ts';
import { shardNameProblem } from './shard-name.ts';

export const INDEX_FILE = 'model.safetensors.index.json';

/** DeepSeek-V3 has 163 shards and ~92,000 tensors; a larger index is corrupt or hostile. */
export const MAX_INDEX_SHARDS = 10_000;
export const MAX_INDEX_TENSORS = 100_000;

export interface ShardIndex {
  /** metadata.total_size when present: the sum of tensor bytes, informational only. */
  totalSize?: number;
  /** tensor name -> shard file name, in the index's order. */
  weightMap: Map<string, string>;
  /** Distinct shard file names, in order of first appearance. */
  files: string[];
}

export function parseShardIndex(text: string, fileName = INDEX_FILE): ShardIndex {
  const json = parseJsonText(text, (detail) => {
    throw new CheckpointError(fileName, detail);
  });
  if (!isObject(json)) throw new CheckpointError(fileName, 'index is not a JSON object');
  const map = json.weight_map;
  if (!isObject(map)) throw new CheckpointError(fileName, "'weight_map' is missing or not an object");

  const entries = Object.entries(map);
  if (entries.length > MAX_INDEX_TENSORS) {
    throw new CheckpointError(fileName, `weight_map lists ${entries.length} tensors; at most ${MAX_INDEX_TENSORS} are accepted`);
  }
  const weightMap = new Map<string, string>();
  const files = new Set<string>();
  for (const [tensor, file] of entries) {
    if (typeof file !== 'string' || file === '') {
      throw new CheckpointError(fileName, `weight_map value ${excerpt(file)} is not a file name`, tensor);
    }
    const problem = shardNameProblem(file);
    if (problem) {
      throw new CheckpointError(
        fileName,
        `shard name ${excerpt(file)} is refused: ${problem}; shard names must be plain relative file names inside the checkpoint folder`,
        tensor,
      );
    }
    weightMap.set(tensor, file);
    files.add(file);
    if (files.size > MAX_INDEX_SHARDS) {
      throw new CheckpointError(fileName, `weight_map names more than ${MAX_INDEX_SHARDS} shard files; at most ${MAX_INDEX_SHARDS} are accepted`);
    }
  }

  const metadata = isObject(json.metadata) ? json.metadata : {};
  const totalSize = typeof metadata.total_size === 'number' ? metadata.total_size : undefined;
  return { totalSize, weightMap, files: [...files] };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
