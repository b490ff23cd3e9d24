import { describe, expect, it } from 'vitest';
import { excerpt } from '../errors.ts';
import { MAX_INDEX_SHARDS, MAX_INDEX_TENSORS, parseShardIndex } from './shard-index.ts';
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
        detail: /plain relative file names inside the checkpoint folder/,
      });
    }
  });

  it('refuses every shard name that is not a plain relative file name, naming the index, tensor and name', async () => {
    const bad = [
      'http://evil.example/model.safetensors',
      'HTTPS://evil.example/m.safetensors',
      '//evil.example/m.safetensors',
      'file:///etc/passwd',
      'data:,x',
      'C:\\x.safetensors',
      'c:x.safetensors',
      '%2e%2e/secret.safetensors',
      '%2E%2E%2Fsecret',
      'a/%2e%2e/%2e%2e/x.safetensors',
      '.%2e/x.safetensors',
      '..',
      '.',
      './x.safetensors',
      'a//b.safetensors',
      'a/',
      'a\\b.safetensors',
      '/abs.safetensors',
      'x\u0000.safetensors',
      'x?query=1',
      'x#frag',
      ' x.safetensors',
      'x'.repeat(300),
    ];
    for (const file of bad) {
      const e = await expectCheckpointError(() => parseShardIndex(JSON.stringify({ weight_map: { 'w.weight': file } }), INDEX), {
        file: INDEX,
        tensor: 'w.weight',
        detail: /shard name .* refused/,
      });
      expect(e.message).toContain(excerpt(file));
      expect(e.message.length).toBeLessThan(400);
    }
    // Real shard names, and a shard in a subfolder, are fine.
    for (const file of ['model-00001-of-000163.safetensors', 'pytorch_model-1.safetensors', 'sub/dir/model+v2.safetensors']) {
      expect(parseShardIndex(JSON.stringify({ weight_map: { w: file } }), INDEX).files).toEqual([file]);
    }
  });

  it('bounds the index: at most MAX_INDEX_SHARDS shards and MAX_INDEX_TENSORS tensors', async () => {
    const shards = Object.fromEntries(Array.from({ length: MAX_INDEX_SHARDS + 1 }, (_, i) => [`t${i}`, `s${i}.safetensors`]));
    await expectCheckpointError(() => parseShardIndex(JSON.stringify({ weight_map: shards }), INDEX), { file: INDEX, detail: /more than 10000 shard files/ });
    const tensors = Object.fromEntries(Array.from({ length: MAX_INDEX_TENSORS + 1 }, (_, i) => [`t${i}`, 'a.safetensors']));
    await expectCheckpointError(() => parseShardIndex(JSON.stringify({ weight_map: tensors }), INDEX), { file: INDEX, detail: /100001 tensors.*at most 100000/ });
  });

  it('refuses JSON nested deeper than the limit without overflowing the stack', async () => {
    const deep = `{"weight_map": {"w": ${'['.repeat(100_000)}${']'.repeat(100_000)}}}`;
    await expectCheckpointError(() => parseShardIndex(deep, INDEX), { file: INDEX, detail: /nested deeper than 64/ });
  });
});
