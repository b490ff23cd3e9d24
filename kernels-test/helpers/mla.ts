// Shared by the MLA tests (src/reference/mla-absorbed.test.ts and kernels-test/mla-*.test.ts): a parsed config
// with chosen attention shapes, random attention weights scaled like trained ones, kv_b_proj in each dtype.
import { readFileSync } from 'node:fs';
import { parseModelConfig, type ModelConfig } from '../../src/config/model-config.ts';
import { ropeInverseFrequencies, type YarnScaling } from '../../src/config/yarn.ts';
import type { AttentionWeights, Matrix } from '../../src/reference/weights.ts';
import { dequantFp8Block } from '../../src/checkpoint/fp8-blocks.ts';
import type { KvBDtype, MlaDims } from '../../src/kernels/mla-kv-b.ts';
import type { RowMap, RowMapData } from '../../src/kernels/row-map.ts';
import type { MlaShape } from './cases.ts';
import { randomF32, rng } from './rand.ts';

/** tiny-v3's config.json with `overrides` (HF names), parsed as the engine parses it. */
export function tinyConfig(overrides: Record<string, unknown> = {}): ModelConfig {
  const json = JSON.parse(readFileSync('kernels-test/fixtures/tiny-v3/config.json', 'utf8')) as Record<string, unknown>;
  const heads = overrides.num_attention_heads ?? json.num_attention_heads;
  return parseModelConfig({ ...json, num_key_value_heads: heads, ...overrides }, 'tiny-v3 config.json (modified)');
}

/** Random attention weights for `c` (|W| ~ 1/sqrt(in), norms ~ 1). */
export function randomAttentionWeights(c: ModelConfig, seed: number): AttentionWeights {
  let s = seed;
  const m = (rows: number, cols: number): Matrix => ({ data: randomF32(rows * cols, s++, 1 / Math.sqrt(cols)), rows, cols });
  const norm = (n: number) => Float32Array.from(randomF32(n, s++, 0.5), (x) => 1 + x);
  const H = c.numAttentionHeads;
  const q = c.qLoraRank === null
    ? { qProj: m(H * c.qHeadDim, c.hiddenSize) }
    : { qAProj: m(c.qLoraRank, c.hiddenSize), qANorm: norm(c.qLoraRank), qBProj: m(H * c.qHeadDim, c.qLoraRank) };
  return {
    ...q,
    kvAProjWithMqa: m(c.latentDim, c.hiddenSize),
    kvANorm: norm(c.kvLoraRank),
    kvBProj: m(H * (c.qkNopeHeadDim + c.vHeadDim), c.kvLoraRank),
    oProj: m(c.hiddenSize, H * c.vHeadDim),
  };
}

/** A random kv_b_proj [rows, cols] in `dtype`: the packed bytes the kernels read and the f32 values they mean. */
export interface PackedKvB {
  dtype: KvBDtype;
  /** The checkpoint bytes: e4m3 codes, bf16 halves or f32. */
  packed: Uint8Array | Uint16Array | Float32Array;
  /** FP8 only: [ceil(rows / blockRows), ceil(cols / blockCols)]. */
  scale?: Float32Array;
  /** What the reference uses: dequantFp8Block / widened bf16 / the f32 values. */
  values: Float32Array;
}

export function randomKvB(dtype: KvBDtype, rows: number, cols: number, seed: number, block: [number, number] = [128, 128]): PackedKvB {
  const r = rng(seed);
  if (dtype === 'F8_E4M3') {
    // Every code but the two NaNs, subnormals and ±0 included; scales ~ 1/(448 * sqrt(cols)) like a quantizer's.
    const packed = Uint8Array.from({ length: rows * cols }, () => {
      const c = Math.floor(r() * 254);
      return c >= 0x7f ? c + 1 : c;
    });
    const scale = Float32Array.from({ length: Math.ceil(rows / block[0]) * Math.ceil(cols / block[1]) }, () => (0.5 + r()) / (64 * Math.sqrt(cols)));
    return { dtype, packed, scale, values: dequantFp8Block(packed, rows, cols, scale, block[0], block[1]) };
  }
  const values = randomF32(rows * cols, seed, 1 / Math.sqrt(cols));
  if (dtype === 'F32') return { dtype, packed: values, values };
  const bits = new Uint32Array(values.buffer.slice(0));
  const packed = Uint16Array.from(bits, (b) => b >>> 16); // truncation: any bf16 value will do
  return { dtype, packed, values: new Float32Array(Uint32Array.from(packed, (h) => h << 16).buffer) };
}

/** A cases.ts MlaShape as the dimension names the kernels and the reference take. */
export function mlaDims(s: MlaShape): MlaDims {
  return { numAttentionHeads: s.heads, kvLoraRank: s.kvLora, qkNopeHeadDim: s.nope, qkRopeHeadDim: s.rope, vHeadDim: s.vHead };
}

/** DeepSeek-V3's rope_scaling (config.json), for realistic inverse frequencies. */
export const V3_YARN: YarnScaling = { factor: 40, originalMaxPositionEmbeddings: 4096, betaFast: 32, betaSlow: 1, mscale: 1, mscaleAllDim: 1 };

/** The f32 inverse frequencies the kernels are given (ModelConfig.ropeInvFreq uploaded as f32), as f64 values. */
export function invFreqF32(rope: number, yarn: YarnScaling | null = V3_YARN): Float64Array {
  return Float64Array.from(ropeInverseFrequencies(rope, 10000, yarn), Math.fround);
}

/** A row map's arrays uploaded with `upload` (KernelHarness.input or a benchmark's), bound whole. */
export function uploadRowMap(upload: (data: Uint32Array, label: string) => GPUBuffer, d: RowMapData & { pages: Uint32Array; pageSize: number }): RowMap {
  return {
    rows: d.rows,
    segmentCount: d.segmentCount,
    blocks: d.blocks,
    kvLen: d.kvLen,
    pos: upload(d.pos, 'row_pos'),
    slot: upload(d.slot, 'row_slot'),
    segments: upload(d.segments, 'segments'),
    pages: upload(d.pages, 'pages'),
    pageShift: Math.log2(d.pageSize),
  };
}
