import { describe, expect, it } from 'vitest';
import { parseShardIndex } from './shard-index.ts';
import { expectCheckpointError } from './test-files.ts';

const INDEX = 'ckpt/model.safetensors.index.json';

describe('parseShardIndex', () => {
  it('maps tensors to shards and lists the shards once each, in order', () => {
    const index = parseShardIndex(
      JSON.stringify({
        metadata: { total_size: 40 },
        weight_map: { b: 'model-00002-of-00002.safetensors', a: 'model-00001-of-00002.safetensors', c: 'model-00002-of-00002.safetensors' },
      }),
      INDEX,
    );
    expect(index.totalSize).toBe(40);
    expect([...index.weightMap]).toEqual([
      ['b', 'model-00002-of-00002.safetensors'],
      ['a', 'model-00001-of-00002.safetensors'],
      ['c', 'model-00002-of-00002.safetensors'],
    ]);
    expect(index.files).toEqual(['model-00002-of-00002.safetensors', 'model-00001-of-00002.safetensors']);
    expect(parseShardIndex('{"weight_map": {}}', INDEX).totalSize).toBeUndefined();
  });

  it('rejects malformed JSON and a missing or non-object weight_map, naming the index file', async () => {
    await expectCheckpointError(() => parseShardIndex('{"weight_map": ', INDEX), { file: INDEX, detail: /not valid JSON/ });
    await expectCheckpointError(() => parseShardIndex('[]', INDEX), { file: INDEX, detail: /not a JSON object/ });
    await expectCheckpointError(() => parseShardIndex('{"metadata": {}}', INDEX), { file: INDEX, detail: /weight_map/ });
    await expectCheckpointError(() => parseShardIndex('{"weight_map": ["a"]}', INDEX), { file: INDEX, detail: /weight_map/ });
  });

  it('rejects file names that are not strings or leave the folder, naming the tensor', async () => {
    for (const file of [3, null, '', ['a.safetensors']]) {
      await expectCheckpointError(() => parseShardIndex(JSON.stringify({ weight_map: { 'w.weight': file } }), INDEX), {
        file: INDEX,
        tensor: 'w.weight',
        detail: /not a file name/,
      });
    }
    for (const file of ['../x.safetensors', '/etc/x.safetensors', 'a/../../x.safetensors', '..\\x.safetensors']) {
      await expectCheckpointError(() => parseShardIndex(JSON.stringify({ weight_map: { 'w.weight': file } }), INDEX), {
        file: INDEX,
        tensor: 'w.weight',
        detail: /outside the checkpoint folder/,
      });
    }
  });
});
