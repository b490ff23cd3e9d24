// Every GPU buffer the weights take, decided from config.json and the checkpoint headers alone: a weight's
// GPU format, its byte size and how it is split into buffers that fit the device. The uploader (./upload.ts)
// allocates exactly these buffers, and the memory plan (./memory-plan.ts) sums them and checks each against
// the device's limits, so what is refused before loading is what loading would have allocated.
//
// Weights whose consumers take parts are split to fit one storage binding: lm_head and the MTP's
// shared_head.head by whole output rows (one matmul per part writes its column slice of the logits), the
// embeddings by whole rows, expert stacks by whole experts. Every other weight is one buffer.
import type { Checkpoint } from '../checkpoint/checkpoint.ts';
import { Q4_GROUP, q4Groups, q4Words } from '../checkpoint/q4-quantize.ts';
import { fp8ScaleName, modelNames, q4ScaleName, type AttentionNames, type LayerNames, type MlpNames } from '../checkpoint/tensor-names.ts';
import type { ModelConfig } from '../config/model-config.ts';
import { CheckpointError, ConfigError } from '../errors.ts';
import { storageBytes } from '../gpu/buffers.ts';
import { LAYOUT_ROW_ALIGN, matmulLayoutBytes, type MatmulFormat } from '../kernels/matmul-layout.ts';
import { EXPERT_BLOCK, expertScaleBytes, expertWeightBytes } from '../kernels/moe-weights.ts';

/** One GPU buffer as createStorage will allocate it (bytes rounded as it rounds them). */
export interface PlannedBuffer {
  label: string;
  bytes: number;
}

/** One buffer of a weight: units [first, first + count) (output rows, table rows or experts), and its FP8 or q4 scales. */
export interface WeightPart {
  first: number;
  count: number;
  weight: PlannedBuffer;
  scale?: PlannedBuffer;
}

/**
 * How a weight goes to the GPU. 'vector': a norm or bias as f32. 'linear': a matmul weight in one buffer;
 * 'rows': one split by output rows. 'columns': a column slice [c0, c1) of a BF16/F32 matmul weight. 'raw':
 * bytes as stored (kv_b_proj). 'embedding': a table in parts of whole rows. 'experts': one projection of
 * every routed (or the shared) expert, stacked in parts of whole experts.
 */
export type WeightKind = 'vector' | 'linear' | 'rows' | 'columns' | 'raw' | 'embedding' | 'experts';

export interface WeightPlan {
  /** The tensor name (for 'columns' columnsKey(); for 'experts' the first expert's tensor). */
  key: string;
  kind: WeightKind;
  /** MatmulFormat for matmul weights and experts, the stored dtype for 'raw', 'BF16' | 'F32' for tables. */
  format: string;
  /** The whole weight's [out, in] (or [length]); for 'columns' the slice's. */
  shape: number[];
  /** The expert tensors of an 'experts' stack, in expert order. */
  names?: string[];
  /**
   * An offloaded stack (ModelLoadOptions.gpuMemory): the parts hold this many expert slots, not every
   * expert; the experts live in host memory and are uploaded into slots when routed (./expert-offload.ts).
   */
  slots?: number;
  parts: WeightPart[];
}

export interface WeightsPlan {
  tensors: Map<string, WeightPlan>;
  /** Every buffer, in upload order. */
  buffers: PlannedBuffer[];
  bytes: number;
  /** Inputs per scale group of the q4 weights (stored or quantized at load). */
  q4Group: number;
}

/**
 * Quantization at load: 'fp8' turns BF16/F32 linear and expert weights (not the kept ones) into FP8 128x128
 * blocks; 'q4' turns them (FP8 ones too) into 4-bit codes with a scale per Q4_GROUP inputs (docs/q4.md).
 */
export type QuantizeFormat = 'fp8' | 'q4';

export interface WeightPlanOptions {
  quantize?: QuantizeFormat;
  /** Plan the MTP module (default true when the checkpoint has one). */
  mtp?: boolean;
  /**
   * Expert slots per MoE decoder layer when fewer than its routed experts (expert offload): each such layer's
   * routed stacks become slot pools of this many experts. The MTP layer's experts stay resident.
   */
  expertSlots?: number;
}

/** The key of a column slice of a matmul weight (eh_proj's two halves). */
export function columnsKey(name: string, c0: number, c1: number): string {
  return `${name}[:, ${c0}:${c1}]`;
}

/** The tensor a columnsKey() slices (other keys are tensor names already). */
export function tensorOfKey(key: string): string {
  return key.replace(/\[:, \d+:\d+\]$/, '');
}

/** The GPU buffers of every weight the model loads, split so each fits `limitBytes` where the weight allows. */
export function planWeights(c: ModelConfig, ckpt: Checkpoint, o: WeightPlanOptions, limitBytes: number): WeightsPlan {
  const stored = c.quantization?.method === 'q4' ? c.quantization.groupSize : undefined;
  if (stored !== undefined && o.quantize === 'fp8') throw new ConfigError('quantization_config', 'this folder is already 4-bit (q4); it cannot be quantized to FP8 (load it without --quantize)');
  const p = new WeightPlanner(ckpt, c.quantization?.weightBlockSize ?? [128, 128], o.quantize, stored ?? Q4_GROUP, limitBytes);
  const names = modelNames(c);
  const H = c.hiddenSize;
  const slots = o.expertSlots !== undefined && o.expertSlots < c.nRoutedExperts ? o.expertSlots : undefined;
  for (const n of names.layers) planLayer(p, c, n, slots);
  for (const m of o.mtp === false ? [] : names.mtp) {
    p.vector(m.enorm, H);
    p.vector(m.hnorm, H);
    // eh_proj multiplies [enorm(e) ; hnorm(h)]: its two column halves are two matmuls.
    p.columns(m.ehProj, H, 2 * H, 0, H);
    p.columns(m.ehProj, H, 2 * H, H, 2 * H);
    planLayer(p, c, m.layer);
    p.vector(m.headNorm, H);
    p.linear(m.head, c.vocabSize, H, { keepFormat: true, split: true });
    p.embedding(m.embed, c.vocabSize, H);
  }
  p.embedding(names.embed, c.vocabSize, H);
  p.vector(names.finalNorm, H);
  // lm_head keeps its precision, as DeepSeek's own FP8 release does.
  p.linear(names.lmHead, c.vocabSize, H, { keepFormat: true, split: true });
  return { tensors: p.tensors, buffers: p.buffers, bytes: p.buffers.reduce((n, b) => n + b.bytes, 0), q4Group: p.group };
}

function planLayer(p: WeightPlanner, c: ModelConfig, n: LayerNames, expertSlots?: number): void {
  const H = c.hiddenSize;
  p.vector(n.inputNorm, H);
  p.vector(n.postAttentionNorm, H);
  planAttention(p, c, n.attention);
  if (n.dense) planMlp(p, n.dense, H, c.intermediateSize);
  if (n.moe) {
    // Routing picks experts by comparing scores: the router keeps its stored precision.
    p.linear(n.moe.router, c.nRoutedExperts, H, { keepFormat: true });
    if (n.moe.correctionBias) p.vector(n.moe.correctionBias, c.nRoutedExperts);
    p.experts(n.moe.experts, c.moeIntermediateSize, H, expertSlots);
    if (n.moe.shared) p.experts([n.moe.shared], c.nSharedExperts * c.moeIntermediateSize, H);
  }
}

function planMlp(p: WeightPlanner, n: MlpNames, hidden: number, inter: number): void {
  p.linear(n.gate, inter, hidden);
  p.linear(n.up, inter, hidden);
  p.linear(n.down, hidden, inter);
}

function planAttention(p: WeightPlanner, c: ModelConfig, n: AttentionNames): void {
  const heads = c.numAttentionHeads;
  if (c.qLoraRank === null) {
    p.linear(n.qProj!, heads * c.qHeadDim, c.hiddenSize);
  } else {
    p.linear(n.qAProj!, c.qLoraRank, c.hiddenSize);
    p.vector(n.qANorm!, c.qLoraRank);
    p.linear(n.qBProj!, heads * c.qHeadDim, c.qLoraRank);
  }
  p.linear(n.kvAProjWithMqa, c.latentDim, c.hiddenSize);
  p.vector(n.kvANorm, c.kvLoraRank);
  // Read packed by the MLA kernels, as stored.
  p.raw(n.kvBProj, [heads * (c.qkNopeHeadDim + c.vHeadDim), c.kvLoraRank]);
  p.linear(n.oProj, c.hiddenSize, heads * c.vHeadDim);
}

/**
 * Parts of at most `limit` bytes of `total` units, each a multiple of `align` units but the last (at least
 * one aligned unit: a part that still does not fit is refused by the plan's limit check, which names it).
 * `bytesOf(n)` is the size of n units, linear in whole aligned units.
 */
export function splitUnits(total: number, align: number, limit: number, bytesOf: (units: number) => number): [first: number, count: number][] {
  let per = total;
  if (storageBytes(bytesOf(total)) > limit) {
    per = Math.max(align, Math.floor(limit / bytesOf(align)) * align);
    while (per > align && storageBytes(bytesOf(per)) > limit) per -= align;
  }
  const parts: [number, number][] = [];
  for (let first = 0; first < total; first += per) parts.push([first, Math.min(per, total - first)]);
  return parts;
}

class WeightPlanner {
  readonly tensors = new Map<string, WeightPlan>();
  readonly buffers: PlannedBuffer[] = [];

  constructor(
    private readonly ckpt: Checkpoint,
    private readonly block: readonly [number, number],
    private readonly quantize: QuantizeFormat | undefined,
    readonly group: number,
    private readonly limit: number,
  ) {}

  vector(name: string, length: number): void {
    this.expectShape(name, [length]);
    this.add({ key: name, kind: 'vector', format: 'f32', shape: [length], parts: [this.part(name, 0, length, length * 4)] });
  }

  /** A Linear weight [out, in] in the matmul layout; `split`: in parts of whole output rows. */
  linear(name: string, outDim: number, inDim: number, o: { keepFormat?: boolean; split?: boolean } = {}): void {
    const dtype = this.ckpt.info(name).dtype;
    const format = this.formatOf(dtype, o.keepFormat);
    this.expectWeight(name, outDim, inDim, format);
    const [br, bc] = this.block;
    // Parts of whole layout groups, and of whole FP8 scale block rows so each part's scales are whole rows too.
    const align = format === 'fp8' ? lcm(br, LAYOUT_ROW_ALIGN) : LAYOUT_ROW_ALIGN;
    const split = o.split ? splitUnits(outDim, align, this.limit, (n) => matmulLayoutBytes(format, n, inDim)) : [[0, outDim] as [number, number]];
    const scaleBytes = (count: number) => (format === 'q4' ? count * q4Groups(inDim, this.group) * 4 : Math.ceil(count / br) * Math.ceil(inDim / bc) * 4);
    const scaleName = format === 'q4' ? q4ScaleName(name) : fp8ScaleName(name);
    const parts = split.map(([first, count]) => ({
      ...this.part(name, first, count, matmulLayoutBytes(format, count, inDim), split.length > 1),
      ...((format === 'fp8' || format === 'q4') && { scale: this.buffer(partLabel(scaleName, first, count, split.length > 1), scaleBytes(count)) }),
    }));
    this.add({ key: name, kind: o.split ? 'rows' : 'linear', format, shape: [outDim, inDim], parts });
  }

  /** Columns [c0, c1) of a BF16/F32 Linear weight [out, in] as its own matmul weight, as stored. */
  columns(name: string, outDim: number, inDim: number, c0: number, c1: number): void {
    this.expectShape(name, [outDim, inDim]);
    const info = this.ckpt.info(name);
    if (info.dtype !== 'BF16' && info.dtype !== 'F32') throw new CheckpointError(info.file, `splitting columns needs a BF16 or F32 weight, got ${info.dtype}`, name);
    const format: MatmulFormat = info.dtype === 'BF16' ? 'bf16' : 'f32';
    const key = columnsKey(name, c0, c1);
    this.add({ key, kind: 'columns', format, shape: [outDim, c1 - c0], parts: [{ first: 0, count: outDim, weight: this.buffer(key, matmulLayoutBytes(format, outDim, c1 - c0)) }] });
  }

  raw(name: string, shape: number[]): void {
    this.expectShape(name, shape);
    const info = this.ckpt.info(name);
    const part = this.part(name, 0, shape[0], info.end - info.begin);
    if (info.dtype === 'F8_E4M3') {
      const scale = fp8ScaleName(name);
      part.scale = this.buffer(scale, this.ckpt.info(scale).shape.reduce((a, b) => a * b, 1) * 4);
    }
    this.add({ key: name, kind: 'raw', format: info.dtype, shape, parts: [part] });
  }

  /** A [vocab, hidden] table (BF16 stays BF16, anything else becomes f32) in parts of whole rows. */
  embedding(name: string, vocab: number, hidden: number): void {
    this.expectShape(name, [vocab, hidden]);
    const format = this.ckpt.info(name).dtype === 'BF16' ? 'BF16' : 'F32';
    const rowBytes = hidden * (format === 'BF16' ? 2 : 4);
    const split = splitUnits(vocab, 1, this.limit, (n) => n * rowBytes);
    const parts = split.map(([first, rows]) => this.part(name, first, rows, rows * rowBytes, split.length > 1));
    this.add({ key: name, kind: 'embedding', format, shape: [vocab, hidden], parts });
  }

  /**
   * gate, up and down of `experts` ([inter, hidden], [inter, hidden], [hidden, inter]) stacked in parts of whole
   * experts, in one format: FP8 stays FP8, BF16 stays BF16 unless quantizing, others become f32. With `slots`,
   * the parts hold that many expert slots instead (an offloaded layer's slot pool).
   */
  experts(experts: MlpNames[], inter: number, hidden: number, slots?: number): void {
    const first = this.ckpt.info(experts[0].gate);
    const format = this.formatOf(first.dtype);
    const [br, bc] = this.block;
    if (format === 'fp8' && (br !== EXPERT_BLOCK || bc !== EXPERT_BLOCK)) {
      throw new CheckpointError(first.file, `FP8 experts need ${EXPERT_BLOCK}x${EXPERT_BLOCK} scale blocks (weight_block_size), got ${br}x${bc}`, experts[0].gate);
    }
    const projections: [names: string[], out: number, inDim: number][] = [
      [experts.map((e) => e.gate), inter, hidden],
      [experts.map((e) => e.up), inter, hidden],
      [experts.map((e) => e.down), hidden, inter],
    ];
    for (const [names, out, inDim] of projections) {
      for (const name of names) {
        const info = this.ckpt.info(name);
        if (this.formatOf(info.dtype) !== format) throw new CheckpointError(info.file, `one projection's experts must share a dtype; got ${info.dtype} beside ${first.dtype}`, name);
        this.expectWeight(name, out, inDim, format);
      }
      if (format === 'q4' && inDim % 8 !== 0) throw new CheckpointError(first.file, `q4 experts need a multiple of 8 inputs (whole words of 8 codes per row), got ${inDim}`, names[0]);
      const units = slots ?? names.length;
      const parts = splitUnits(units, 1, this.limit, (n) => expertWeightBytes(format, n, out, inDim)).map(([at, count]) => {
        const label = slots !== undefined ? `${names[0]} slots ${at}..${at + count - 1}` : count > 1 ? `${names[at]} .. ${names[at + count - 1]}` : names[at];
        const part: WeightPart = { first: at, count, weight: this.buffer(label, expertWeightBytes(format, count, out, inDim)) };
        if (format === 'fp8') part.scale = this.buffer(fp8ScaleName(label), expertScaleBytes(format, count, out, inDim));
        if (format === 'q4') part.scale = this.buffer(q4ScaleName(label), expertScaleBytes(format, count, out, inDim, this.group));
        return part;
      });
      this.add({ key: names[0], kind: 'experts', format, shape: [out, inDim], names, parts, ...(slots !== undefined && { slots }) });
    }
  }

  /**
   * Stored q4 (I32 codes) stays q4; otherwise, unless kept, the requested quantization; else FP8 stays FP8,
   * BF16 stays BF16 and anything else becomes f32.
   */
  private formatOf(dtype: string, keepFormat = false): MatmulFormat {
    if (dtype === 'I32') return 'q4';
    if (this.quantize && !keepFormat && (this.quantize === 'q4' || dtype !== 'F8_E4M3')) return this.quantize;
    if (dtype === 'F8_E4M3') return 'fp8';
    return dtype === 'BF16' ? 'bf16' : 'f32';
  }

  /** The checkpoint tensor (and scale) behind an [out, in] weight: stored q4 codes [out, ceil(in/8)], else [out, in]. */
  private expectWeight(name: string, outDim: number, inDim: number, format: MatmulFormat): void {
    const info = this.ckpt.info(name);
    if (info.dtype === 'I32') {
      this.expectShape(name, [outDim, q4Words(inDim)]);
      this.expectShape(q4ScaleName(name), [outDim, q4Groups(inDim, this.group)]);
      return;
    }
    this.expectShape(name, [outDim, inDim]);
    const [br, bc] = this.block;
    if (info.dtype === 'F8_E4M3' && format !== 'fp8' && format !== 'q4') throw new Error(`weight plan: FP8 '${name}' planned as ${format}`);
    if (info.dtype === 'F8_E4M3') this.expectShape(fp8ScaleName(name), [Math.ceil(outDim / br), Math.ceil(inDim / bc)]);
  }

  private part(name: string, first: number, count: number, bytes: number, split = false): WeightPart {
    return { first, count, weight: this.buffer(partLabel(name, first, count, split), bytes) };
  }

  private buffer(label: string, bytes: number): PlannedBuffer {
    return { label, bytes: storageBytes(bytes) };
  }

  private add(plan: WeightPlan): void {
    if (this.tensors.has(plan.key)) throw new Error(`weight plan: '${plan.key}' planned twice`);
    this.tensors.set(plan.key, plan);
    for (const part of plan.parts) this.buffers.push(...(part.scale ? [part.weight, part.scale] : [part.weight]));
  }

  private expectShape(name: string, shape: number[]): void {
    const info = this.ckpt.info(name);
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      throw new CheckpointError(info.file, `shape [${info.shape}] does not match the config's [${shape}]`, name);
    }
  }
}

function partLabel(name: string, first: number, count: number, split: boolean): string {
  return split ? `${name} rows ${first}..${first + count - 1}` : name;
}

export function lcm(a: number, b: number): number {
  const gcd = (x: number, y: number): number => (y === 0 ? x : gcd(y, x % y));
  return (a / gcd(a, b)) * b;
}
