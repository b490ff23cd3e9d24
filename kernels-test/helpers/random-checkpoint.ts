// Writes a tiny checkpoint folder with random weights for a config.json, in the layout of DeepSeek's releases
// (config.json, shards, model.safetensors.index.json; no tokenizer: prompts are token ids), through the
// project's own safetensors writer. Tensor names come from src/checkpoint/tensor-names.ts, which the golden
// fixtures pin to the official names. Weights are scaled so activations stay O(1) (|W| ~ 1/sqrt(fan_in),
// embeddings ~ 1, norms ~ 1): otherwise saturated softmaxes and argmax ties make comparisons meaningless.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseModelConfig, type ModelConfig } from '../../src/config/model-config.ts';
import { quantizeFp8Blocks } from '../../src/checkpoint/fp8-quantize.ts';
import { encodeSafetensors, type OutputTensor } from '../../src/checkpoint/safetensors-writer.ts';
import { fp8ScaleName, modelNames, type LayerNames, type MlpNames } from '../../src/checkpoint/tensor-names.ts';
import { rng } from './rand.ts';

export type WeightFormat = { format: 'fp8'; block: [number, number] } | { format: 'bf16' };

export async function writeRandomCheckpoint(dir: string, json: Record<string, unknown>, weights: WeightFormat, seed: number, shards = 2): Promise<ModelConfig> {
  const c = parseModelConfig(json, `${dir}/config.json`);
  const tensors = new RandomTensors(c, weights, seed).all();
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), JSON.stringify(json, null, 2));
  const perShard = Math.ceil(tensors.length / shards);
  const weightMap: Record<string, string> = {};
  let totalSize = 0;
  for (let s = 0; s < shards; s++) {
    const file = `model-${String(s + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
    const group = tensors.slice(s * perShard, (s + 1) * perShard);
    for (const t of group) weightMap[t.name] = file;
    totalSize += group.reduce((n, t) => n + t.data.byteLength, 0);
    await writeFile(join(dir, file), encodeSafetensors(group, { format: 'pt' }));
  }
  await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }, null, 1));
  return c;
}

/** Every tensor of the model, in checkpoint order, with seeded values. */
class RandomTensors {
  private readonly out: OutputTensor[] = [];
  private readonly random: () => number;

  constructor(
    private readonly c: ModelConfig,
    private readonly weights: WeightFormat,
    seed: number,
  ) {
    this.random = rng(seed);
  }

  all(): OutputTensor[] {
    const { c } = this;
    const n = modelNames(c);
    const H = c.hiddenSize;
    this.plain(n.embed, [c.vocabSize, H], 1);
    n.layers.forEach((l) => this.layer(l));
    this.norm(n.finalNorm, H);
    this.plain(n.lmHead, [c.vocabSize, H], 1 / Math.sqrt(H));
    for (const m of n.mtp) {
      this.norm(m.enorm, H);
      this.norm(m.hnorm, H);
      // eh_proj stays BF16 in the FP8 release (the engine splits its columns)
      this.plain(m.ehProj, [H, 2 * H], 1 / Math.sqrt(2 * H));
      this.layer(m.layer);
      this.plain(m.embed, [c.vocabSize, H], 1);
      this.norm(m.headNorm, H);
      this.plain(m.head, [c.vocabSize, H], 1 / Math.sqrt(H));
    }
    return this.out;
  }

  private layer(l: LayerNames): void {
    const { c } = this;
    const H = c.hiddenSize;
    const heads = c.numAttentionHeads;
    const a = l.attention;
    this.norm(l.inputNorm, H);
    this.norm(l.postAttentionNorm, H);
    if (a.qProj) this.linear(a.qProj, heads * c.qHeadDim, H);
    else {
      this.linear(a.qAProj!, c.qLoraRank!, H);
      this.norm(a.qANorm!, c.qLoraRank!);
      this.linear(a.qBProj!, heads * c.qHeadDim, c.qLoraRank!);
    }
    this.linear(a.kvAProjWithMqa, c.latentDim, H);
    this.norm(a.kvANorm, c.kvLoraRank);
    this.linear(a.kvBProj, heads * (c.qkNopeHeadDim + c.vHeadDim), c.kvLoraRank);
    this.linear(a.oProj, H, heads * c.vHeadDim);
    if (l.dense) this.mlp(l.dense, c.intermediateSize);
    if (l.moe) {
      this.plain(l.moe.router, [c.nRoutedExperts, H], 1 / Math.sqrt(H));
      if (l.moe.correctionBias) this.tensor(l.moe.correctionBias, 'F32', [c.nRoutedExperts], this.uniform(c.nRoutedExperts, 0.1));
      for (const e of l.moe.experts) this.mlp(e, c.moeIntermediateSize);
      if (l.moe.shared) this.mlp(l.moe.shared, c.nSharedExperts * c.moeIntermediateSize);
    }
  }

  private mlp(m: MlpNames, inter: number): void {
    const H = this.c.hiddenSize;
    this.linear(m.gate, inter, H);
    this.linear(m.up, inter, H);
    this.linear(m.down, H, inter);
  }

  /** A Linear weight in the checkpoint's format: FP8 codes + weight_scale_inv, or BF16. */
  private linear(name: string, rows: number, cols: number): void {
    const values = this.uniform(rows * cols, Math.sqrt(3 / cols)); // std 1/sqrt(fan_in)
    if (this.weights.format === 'bf16') {
      this.tensor(name, 'BF16', [rows, cols], toBf16(values));
      return;
    }
    const [br, bc] = this.weights.block;
    const q = quantizeFp8Blocks(values, rows, cols, br, bc);
    this.tensor(name, 'F8_E4M3', [rows, cols], q.codes);
    this.tensor(fp8ScaleName(name), 'F32', [Math.ceil(rows / br), Math.ceil(cols / bc)], q.scaleInv);
  }

  /** Embeddings, heads, routers and eh_proj: BF16 in every release. */
  private plain(name: string, shape: [number, number], std: number): void {
    this.tensor(name, 'BF16', shape, toBf16(this.uniform(shape[0] * shape[1], std * Math.sqrt(3))));
  }

  private norm(name: string, n: number): void {
    this.tensor(name, 'BF16', [n], toBf16(this.uniform(n, 0.2).map((x) => 1 + x)));
  }

  private tensor(name: string, dtype: OutputTensor['dtype'], shape: number[], data: ArrayBufferView): void {
    this.out.push({ name, dtype, shape, data });
  }

  private uniform(n: number, amplitude: number): Float32Array {
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) v[i] = (this.random() * 2 - 1) * amplitude;
    return v;
  }
}

/** f32 -> bf16 bits, rounding to nearest even (no NaNs here). */
function toBf16(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  return Uint16Array.from(bits, (b) => (b + 0x7fff + ((b >>> 16) & 1)) >>> 16);
}
