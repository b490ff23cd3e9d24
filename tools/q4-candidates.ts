// Measures 4-bit candidates before any kernel exists (docs/q4.md "Choosing the form"): writes a copy of a
// model folder whose q4 slots (tensor-names.ts modelSlots) hold their weights quantized by a candidate and
// dequantized again, as F32, every other tensor as stored. `perplexity` on that folder runs the candidate's
// exact function on the F32 kernels, so group sizes and zero points compare by nats/token.
//   npx tsx tools/q4-candidates.ts --model weights/tiny-v3-trained --out /tmp/q4-sym32 --candidate sym32
// Candidates: symG (this repo's q4: Q4_0-style symmetric, one f32 scale per G inputs) and asymG (min/max
// with a zero point: w = q * s + m, q in 0..15, two f32 per group).
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openModelFolder } from '../src/checkpoint/model-folder.ts';
import { dequantQ4, quantizeQ4 } from '../src/checkpoint/q4-quantize.ts';
import { encodeSafetensors, type OutputTensor } from '../src/checkpoint/safetensors-writer.ts';
import { nodeFolder } from '../src/checkpoint/sources/node-file.ts';
import { modelSlots } from '../src/checkpoint/tensor-names.ts';
import { readWeightF32 } from '../src/checkpoint/weight-f32.ts';

function asymmetric(w: Float32Array, rows: number, cols: number, group: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) {
    for (let c0 = 0; c0 < cols; c0 += group) {
      const c1 = Math.min(cols, c0 + group);
      let lo = Infinity;
      let hi = -Infinity;
      for (let c = c0; c < c1; c++) (lo = Math.min(lo, w[r * cols + c])), (hi = Math.max(hi, w[r * cols + c]));
      const s = Math.fround((hi - lo) / 15);
      for (let c = c0; c < c1; c++) {
        const q = s === 0 ? 0 : Math.max(0, Math.min(15, Math.round((w[r * cols + c] - lo) / s)));
        out[r * cols + c] = Math.fround(q * s + lo);
      }
    }
  }
  return out;
}

function fakeQuantize(candidate: string, w: Float32Array, rows: number, cols: number): Float32Array {
  const m = /^(sym|asym)(\d+)$/.exec(candidate);
  if (!m) throw new Error(`--candidate: expected symG or asymG, got ${candidate}`);
  const group = Number(m[2]);
  return m[1] === 'sym' ? dequantQ4(quantizeQ4(w, rows, cols, group), rows, cols, group) : asymmetric(w, rows, cols, group);
}

const { values } = parseArgs({ options: { model: { type: 'string' }, out: { type: 'string' }, candidate: { type: 'string' } } });
const dir = values.model!;
const { config, checkpoint } = await openModelFolder(nodeFolder(dir));
const q4 = new Map(modelSlots(config).filter((s) => s.q4).map((s) => [s.name, s]));
const tensors: OutputTensor[] = [];
let err = 0;
let norm = 0;
for (const name of checkpoint.names()) {
  const slot = q4.get(name);
  const info = checkpoint.info(name);
  if (!slot) {
    // FP8 scales of q4 slots go with their weights; the rest (kv_b_proj's scale) stays.
    if (name.endsWith('_scale_inv') && q4.has(name.slice(0, -'_scale_inv'.length))) continue;
    tensors.push({ name, dtype: info.dtype, shape: info.shape, data: await checkpoint.read(name) });
    continue;
  }
  const [rows, cols] = slot.shape;
  const w = await readWeightF32(checkpoint, config, name, rows, cols);
  const fq = fakeQuantize(values.candidate!, w, rows, cols);
  for (let i = 0; i < w.length; i++) (err += (fq[i] - w[i]) ** 2), (norm += w[i] ** 2);
  tensors.push({ name, dtype: 'F32', shape: [rows, cols], data: fq });
}
await checkpoint.close();
await mkdir(values.out!, { recursive: true });
await writeFile(join(values.out!, 'model.safetensors'), encodeSafetensors(tensors));
for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) await copyFile(join(dir, f), join(values.out!, f));
console.log(`${values.candidate}: relative L2 weight error ${Math.sqrt(err / norm).toExponential(3)} over the q4 slots`);
