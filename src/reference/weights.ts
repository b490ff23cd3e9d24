// Loads a checkpoint's weights for the CPU reference as plain float32 arrays: FP8 blocks dequantized
// (one f32 multiply per weight, exactly the values the checkpoint decodes to), q4 codes dequantized with
// their group scales, BF16 widened; with `quantize: 'q4'` the q4 slots go through the engine's quantizer
// and back (docs/q4.md), the weights `--quantize q4` computes with. Only for the
// small models the reference runs on; the GPU engine keeps FP8 packed. Every tensor's shape is checked
// against the config here, naming the tensor on a mismatch.
import type { ModelConfig } from '../config/model-config.ts';
import type { Checkpoint } from '../checkpoint/checkpoint.ts';
import { CheckpointError } from '../errors.ts';
import { dequantQ4, Q4_GROUP, quantizeQ4 } from '../checkpoint/q4-quantize.ts';
import { readWeightF32 } from '../checkpoint/weight-f32.ts';
import {
  modelNames,
  modelSlots,
  type AttentionNames,
  type LayerNames,
  type MlpNames,
} from '../checkpoint/tensor-names.ts';

export type Vec = Float32Array;
/** A linear layer's weight, [out, in] row-major. */
export interface Matrix {
  data: Float32Array;
  rows: number;
  cols: number;
}

export interface MlpWeights {
  gate: Matrix;
  up: Matrix;
  down: Matrix;
}

export interface AttentionWeights {
  qAProj?: Matrix;
  qANorm?: Vec;
  qBProj?: Matrix;
  qProj?: Matrix;
  kvAProjWithMqa: Matrix;
  kvANorm: Vec;
  kvBProj: Matrix;
  oProj: Matrix;
}

export interface MoeWeights {
  router: Matrix;
  correctionBias?: Vec;
  experts: MlpWeights[];
  shared?: MlpWeights;
}

export interface LayerWeights {
  inputNorm: Vec;
  postAttentionNorm: Vec;
  attention: AttentionWeights;
  dense?: MlpWeights;
  moe?: MoeWeights;
}

export interface MtpWeights {
  enorm: Vec;
  hnorm: Vec;
  ehProj: Matrix;
  layer: LayerWeights;
  embed: Matrix;
  headNorm: Vec;
  head: Matrix;
}

export interface ReferenceWeights {
  embed: Matrix;
  finalNorm: Vec;
  lmHead: Matrix;
  layers: LayerWeights[];
  mtp: MtpWeights[];
}

function expectShape(ckpt: Checkpoint, name: string, shape: number[]): void {
  const got = ckpt.info(name).shape;
  if (got.length !== shape.length || got.some((d: number, i: number) => d !== shape[i])) {
    throw new CheckpointError(ckpt.info(name).file, `shape [${got}] does not match the config's [${shape}]`, name);
  }
}

async function vector(ckpt: Checkpoint, name: string, length: number): Promise<Vec> {
  expectShape(ckpt, name, [length]);
  return ckpt.readF32(name);
}

/** Where the weights come from and whether the q4 slots are quantized on the way (`quantize: 'q4'`). */
interface Source {
  ckpt: Checkpoint;
  c: ModelConfig;
  /** Names of the slots quantized to q4 on the way in. */
  q4: Set<string>;
}

async function matrix(src: Source, name: string, rows: number, cols: number): Promise<Matrix> {
  const data = await readWeightF32(src.ckpt, src.c, name, rows, cols);
  if (!src.q4.has(name)) return { data, rows, cols };
  return { data: dequantQ4(quantizeQ4(data, rows, cols, Q4_GROUP), rows, cols, Q4_GROUP), rows, cols };
}

async function mlp(src: Source, n: MlpNames, hidden: number, inter: number): Promise<MlpWeights> {
  return {
    gate: await matrix(src, n.gate, inter, hidden),
    up: await matrix(src, n.up, inter, hidden),
    down: await matrix(src, n.down, hidden, inter),
  };
}

async function attention(src: Source, n: AttentionNames): Promise<AttentionWeights> {
  const c = src.c;
  const H = c.numAttentionHeads;
  const q =
    c.qLoraRank === null
      ? { qProj: await matrix(src, n.qProj!, H * c.qHeadDim, c.hiddenSize) }
      : {
          qAProj: await matrix(src, n.qAProj!, c.qLoraRank, c.hiddenSize),
          qANorm: await vector(src.ckpt, n.qANorm!, c.qLoraRank),
          qBProj: await matrix(src, n.qBProj!, H * c.qHeadDim, c.qLoraRank),
        };
  return {
    ...q,
    kvAProjWithMqa: await matrix(src, n.kvAProjWithMqa, c.kvLoraRank + c.qkRopeHeadDim, c.hiddenSize),
    kvANorm: await vector(src.ckpt, n.kvANorm, c.kvLoraRank),
    kvBProj: await matrix(src, n.kvBProj, H * (c.qkNopeHeadDim + c.vHeadDim), c.kvLoraRank),
    oProj: await matrix(src, n.oProj, c.hiddenSize, H * c.vHeadDim),
  };
}

async function layer(src: Source, n: LayerNames): Promise<LayerWeights> {
  const c = src.c;
  const w: LayerWeights = {
    inputNorm: await vector(src.ckpt, n.inputNorm, c.hiddenSize),
    postAttentionNorm: await vector(src.ckpt, n.postAttentionNorm, c.hiddenSize),
    attention: await attention(src, n.attention),
  };
  if (n.dense) w.dense = await mlp(src, n.dense, c.hiddenSize, c.intermediateSize);
  if (n.moe) {
    const experts: MlpWeights[] = [];
    for (const e of n.moe.experts) experts.push(await mlp(src, e, c.hiddenSize, c.moeIntermediateSize));
    w.moe = {
      router: await matrix(src, n.moe.router, c.nRoutedExperts, c.hiddenSize),
      correctionBias: n.moe.correctionBias ? await vector(src.ckpt, n.moe.correctionBias, c.nRoutedExperts) : undefined,
      experts,
      shared: n.moe.shared
        ? await mlp(src, n.moe.shared, c.hiddenSize, c.nSharedExperts * c.moeIntermediateSize)
        : undefined,
    };
  }
  return w;
}

/**
 * Read every weight the config names; `withMtp` false skips the MTP module even when present; `quantize: 'q4'`
 * passes the q4 slots through the engine's quantizer (as `--quantize q4` does at load).
 */
export async function loadReferenceWeights(ckpt: Checkpoint, c: ModelConfig, withMtp = true, options: { quantize?: 'q4' } = {}): Promise<ReferenceWeights> {
  const q4 = new Set(options.quantize === 'q4' ? modelSlots(c).filter((s) => s.q4).map((s) => s.name) : []);
  const src: Source = { ckpt, c, q4 };
  const names = modelNames(c);
  const layers: LayerWeights[] = [];
  for (const n of names.layers) layers.push(await layer(src, n));
  const mtp: MtpWeights[] = [];
  for (const m of withMtp ? names.mtp : []) {
    mtp.push({
      enorm: await vector(src.ckpt, m.enorm, c.hiddenSize),
      hnorm: await vector(src.ckpt, m.hnorm, c.hiddenSize),
      ehProj: await matrix(src, m.ehProj, c.hiddenSize, 2 * c.hiddenSize),
      layer: await layer(src, m.layer),
      embed: await matrix(src, m.embed, c.vocabSize, c.hiddenSize),
      headNorm: await vector(src.ckpt, m.headNorm, c.hiddenSize),
      head: await matrix(src, m.head, c.vocabSize, c.hiddenSize),
    });
  }
  return {
    embed: await matrix(src, names.embed, c.vocabSize, c.hiddenSize),
    finalNorm: await vector(src.ckpt, names.finalNorm, c.hiddenSize),
    lmHead: await matrix(src, names.lmHead, c.vocabSize, c.hiddenSize),
    layers,
    mtp,
  };
}
