// The q4 saved form (docs/q4.md "Saved form"): a model folder whose q4 slots (tensor-names.ts modelSlots)
// hold packed codes and group scales, so `--quantize q4` runs once. Browser-safe: yields the files' names
// and bytes; the caller writes them (src/cli/quantize.ts writes them atomically).
//   <weight>        I32 [out, ceil(in / 8)]      8 codes per word, nibble n = input 8w + n (q + 8)
//   <weight>_scale  F32 [out, ceil(in / group)]
// Every other tensor is copied as stored (kv_b_proj keeps its FP8 blocks and scale_inv; the FP8 scale_inv of
// a q4 slot is dropped with its codes). config.json gains quantization_config {quant_method:
// "deepseek-webgpu-q4", bits: 4, group_size, zero_point: false, weight_block_size}.
import { Q4_QUANT_METHOD, type ModelConfig } from '../config/model-config.ts';
import type { Checkpoint } from './checkpoint.ts';
import { quantizeQ4, Q4_GROUP } from './q4-quantize.ts';
import { encodeSafetensors, type OutputTensor } from './safetensors-writer.ts';
import { fp8ScaleName, modelSlots, q4ScaleName } from './tensor-names.ts';
import { readWeightF32 } from './weight-f32.ts';

/** Shards are cut once they hold this many bytes (a tensor never straddles two). */
export const Q4_SHARD_BYTES = 1 << 30;

export interface Q4File {
  name: string;
  bytes: Uint8Array;
}

/** config.json of the q4 folder: the source's, with quantization_config replaced. */
export function q4ConfigJson(source: Record<string, unknown>, c: ModelConfig, group = Q4_GROUP): Record<string, unknown> {
  const quantization_config = {
    quant_method: Q4_QUANT_METHOD,
    bits: 4,
    group_size: group,
    zero_point: false,
    // The FP8 tensors left as stored (kv_b_proj of an FP8 source) keep their blocks.
    weight_block_size: c.quantization?.weightBlockSize ?? [128, 128],
  };
  return { ...source, quantization_config };
}

/**
 * The shards and the index of the q4 folder, one shard at a time (each holds at most about `shardBytes`
 * plus one tensor, built in memory). `onTensor` is told of every tensor written.
 */
export async function* q4Shards(ckpt: Checkpoint, c: ModelConfig, o: { group?: number; shardBytes?: number; onTensor?: (name: string) => void } = {}): AsyncGenerator<Q4File> {
  const group = o.group ?? Q4_GROUP;
  const limit = o.shardBytes ?? Q4_SHARD_BYTES;
  const q4 = new Map(modelSlots(c).filter((s) => s.q4).map((s) => [s.name, s.shape]));
  const dropped = new Set([...q4.keys()].map(fp8ScaleName));
  const names = ckpt.names().filter((n) => !dropped.has(n));
  // Count the shards first so every name says "-of-N".
  const plan: string[][] = [[]];
  let size = 0;
  for (const name of names) {
    const shape = q4.get(name);
    const bytes = shape ? shape[0] * (Math.ceil(shape[1] / 8) * 4 + Math.ceil(shape[1] / group) * 4) : ckpt.info(name).end - ckpt.info(name).begin;
    if (size > 0 && size + bytes > limit) plan.push([]), (size = 0);
    plan[plan.length - 1].push(name);
    size += bytes;
  }
  const weightMap: Record<string, string> = {};
  let total = 0;
  for (const [i, shard] of plan.entries()) {
    const file = `model-${String(i + 1).padStart(5, '0')}-of-${String(plan.length).padStart(5, '0')}.safetensors`;
    const tensors: OutputTensor[] = [];
    for (const name of shard) {
      const shape = q4.get(name);
      if (shape) {
        const [rows, cols] = shape;
        const q = quantizeQ4(await readWeightF32(ckpt, c, name, rows, cols), rows, cols, group);
        tensors.push({ name, dtype: 'I32', shape: [rows, Math.ceil(cols / 8)], data: q.codes });
        tensors.push({ name: q4ScaleName(name), dtype: 'F32', shape: [rows, Math.ceil(cols / group)], data: q.scale });
      } else {
        const info = ckpt.info(name);
        tensors.push({ name, dtype: info.dtype, shape: info.shape, data: await ckpt.read(name) });
      }
      o.onTensor?.(name);
    }
    for (const t of tensors) (weightMap[t.name] = file), (total += t.data.byteLength);
    yield { name: file, bytes: encodeSafetensors(tensors, { format: 'pt' }) };
  }
  const index = { metadata: { total_size: total }, weight_map: weightMap };
  yield { name: 'model.safetensors.index.json', bytes: new TextEncoder().encode(`${JSON.stringify(index, null, 2)}\n`) };
}
