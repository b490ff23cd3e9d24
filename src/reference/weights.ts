// Loads a checkpoint's weights for the CPU reference as plain float32 arrays: FP8 blocks dequantized
// (one f32 multiply per weight, exactly the values the checkpoint decodes to), BF16 widened. Only for the
// small models the reference runs on; the GPU engine keeps FP8 packed. Every tensor's shape is checked
// against the config here, naming the tensor on a mismatch.
import type { ModelConfig } from '../config/model-config.ts';
import type { Checkpoint } from '../checkpoint/checkpoint.ts';
import { CheckpointError } from '../errors.ts';
import { dequantFp8Block } from '../checkpoint/fp8-blocks.ts';
import {
  fp8ScaleName,
  modelNames,
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

async function matrix(ckpt: Checkpoint, config: ModelConfig, name: string, rows: number, cols: number): Promise<Matrix> {
  expectShape(ckpt, name, [rows, cols]);
  const info = ckpt.info(name);
  if (info.dtype !== 'F8_E4M3') return { data: await ckpt.readF32(name), rows, cols };
  const [br, bc] = config.quantization?.weightBlockSize ?? [128, 128];
  const scaleName = fp8ScaleName(name);
  if (!ckpt.has(scaleName)) throw new CheckpointError(info.file, `FP8 weight has no '${scaleName}'`, name);
  expectShape(ckpt, scaleName, [Math.ceil(rows / br), Math.ceil(cols / bc)]);
  const codes = await ckpt.read(name);
  const scale = await ckpt.readF32(scaleName);
  return { data: dequantFp8Block(codes, rows, cols, scale, br, bc, name, info.file), rows, cols };
}

async function mlp(ckpt: Checkpoint, c: ModelConfig, n: MlpNames, hidden: number, inter: number): Promise<MlpWeights> {
  return {
    gate: await matrix(ckpt, c, n.gate, inter, hidden),
    up: await matrix(ckpt, c, n.up, inter, hidden),
    down: await matrix(ckpt, c, n.down, hidden, inter),
  };
}

async function attention(ckpt: Checkpoint, c: ModelConfig, n: AttentionNames): Promise<AttentionWeights> {
  const H = c.numAttentionHeads;
  const q =
    c.qLoraRank === null
      ? { qProj: await matrix(ckpt, c, n.qProj!, H * c.qHeadDim, c.hiddenSize) }
      : {
          qAProj: await matrix(ckpt, c, n.qAProj!, c.qLoraRank, c.hiddenSize),
          qANorm: await vector(ckpt, n.qANorm!, c.qLoraRank),
          qBProj: await matrix(ckpt, c, n.qBProj!, H * c.qHeadDim, c.qLoraRank),
        };
  return {
    ...q,
    kvAProjWithMqa: await matrix(ckpt, c, n.kvAProjWithMqa, c.kvLoraRank + c.qkRopeHeadDim, c.hiddenSize),
    kvANorm: await vector(ckpt, n.kvANorm, c.kvLoraRank),
    kvBProj: await matrix(ckpt, c, n.kvBProj, H * (c.qkNopeHeadDim + c.vHeadDim), c.kvLoraRank),
    oProj: await matrix(ckpt, c, n.oProj, c.hiddenSize, H * c.vHeadDim),
  };
}

async function layer(ckpt: Checkpoint, c: ModelConfig, n: LayerNames): Promise<LayerWeights> {
  const w: LayerWeights = {
    inputNorm: await vector(ckpt, n.inputNorm, c.hiddenSize),
    postAttentionNorm: await vector(ckpt, n.postAttentionNorm, c.hiddenSize),
    attention: await attention(ckpt, c, n.attention),
  };
  if (n.dense) w.dense = await mlp(ckpt, c, n.dense, c.hiddenSize, c.intermediateSize);
  if (n.moe) {
    const experts: MlpWeights[] = [];
    for (const e of n.moe.experts) experts.push(await mlp(ckpt, c, e, c.hiddenSize, c.moeIntermediateSize));
    w.moe = {
      router: await matrix(ckpt, c, n.moe.router, c.nRoutedExperts, c.hiddenSize),
      correctionBias: n.moe.correctionBias ? await vector(ckpt, n.moe.correctionBias, c.nRoutedExperts) : undefined,
      experts,
      shared: n.moe.shared
        ? await mlp(ckpt, c, n.moe.shared, c.hiddenSize, c.nSharedExperts * c.moeIntermediateSize)
        : undefined,
    };
  }
  return w;
}

/** Read every weight the config names; `withMtp` false skips the MTP module even when present. */
export async function loadReferenceWeights(ckpt: Checkpoint, c: ModelConfig, withMtp = true): Promise<ReferenceWeights> {
  const names = modelNames(c);
  const layers: LayerWeights[] = [];
  for (const n of names.layers) layers.push(await layer(ckpt, c, n));
  const mtp: MtpWeights[] = [];
  for (const m of withMtp ? names.mtp : []) {
    mtp.push({
      enorm: await vector(ckpt, m.enorm, c.hiddenSize),
      hnorm: await vector(ckpt, m.hnorm, c.hiddenSize),
      ehProj: await matrix(ckpt, c, m.ehProj, c.hiddenSize, 2 * c.hiddenSize),
      layer: await layer(ckpt, c, m.layer),
      embed: await matrix(ckpt, c, m.embed, c.vocabSize, c.hiddenSize),
      headNorm: await vector(ckpt, m.headNorm, c.hiddenSize),
      head: await matrix(ckpt, c, m.head, c.vocabSize, c.hiddenSize),
    });
  }
  return {
    embed: await matrix(ckpt, c, names.embed, c.vocabSize, c.hiddenSize),
    finalNorm: await vector(ckpt, names.finalNorm, c.hiddenSize),
    lmHead: await matrix(ckpt, c, names.lmHead, c.vocabSize, c.hiddenSize),
    layers,
    mtp,
  };
}
