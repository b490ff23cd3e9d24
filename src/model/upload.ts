// Streams checkpoint tensors into GPU buffers in the layouts the kernels read: never a whole shard (or a
// whole large tensor) in JS memory, FP8 and q4 kept packed, BF16 optionally quantized to FP8 blocks, and
// BF16 or FP8 optionally quantized to q4 (docs/q4.md), experts included. Which buffers, of what size and format, comes from the weight plan (./weight-plan.ts): a weight
// the plan does not list is refused, so the memory plan cannot miss what is allocated here. Every buffer made
// here is remembered so dispose() frees them all.
import type { Checkpoint } from '../checkpoint/checkpoint.ts';
import { decodeToF32 } from '../checkpoint/decode.ts';
import { dequantFp8Block } from '../checkpoint/fp8-blocks.ts';
import { quantizeFp8Blocks } from '../checkpoint/fp8-quantize.ts';
import { q4Groups, q4Words, quantizeQ4 } from '../checkpoint/q4-quantize.ts';
import { fp8ScaleName, q4ScaleName, type MlpNames } from '../checkpoint/tensor-names.ts';
import type { Gpu } from '../gpu/device.ts';
import { createStorage, writeStorage } from '../gpu/buffers.ts';
import type { EmbeddingPart } from '../kernels/embed.ts';
import { LAYOUT_ROW_ALIGN, toMatmulLayout, type MatmulFormat } from '../kernels/matmul-layout.ts';
import type { MatmulPart, MatmulWeight } from '../kernels/matmul.ts';
import type { ExpertPart, ExpertWeights } from '../kernels/moe-experts.ts';
import { expertScaleBytes, expertWeightBytes, type ExpertFormat } from '../kernels/moe-weights.ts';
import { columnsKey, lcm, type PlannedBuffer, type WeightKind, type WeightPart, type WeightPlan, type WeightsPlan } from './weight-plan.ts';

/** Bytes read from the checkpoint per piece of a large tensor. */
const PIECE_BYTES = 16 << 20;

/** A byte offset into a GPU buffer. */
export type BufferAt = { buffer: GPUBuffer; offset: number };

/** Checkpoint dtypes the expert kernels read as stored. */
const STORED_FORMAT: Partial<Record<string, ExpertFormat>> = { F8_E4M3: 'fp8', I32: 'q4', BF16: 'bf16', F32: 'f32' };

export interface UploadOptions {
  /**
   * Called after each piece with the checkpoint bytes read so far, each tensor's bytes counted once (a tensor
   * read twice, such as eh_proj's two halves, never takes the count past the checkpoint's size).
   */
  onBytes?: (bytes: number) => void;
}

export class WeightUploader {
  readonly buffers: GPUBuffer[] = [];
  bytesRead = 0;
  bytesOnGpu = 0;
  private readonly readOf = new Map<string, number>();

  constructor(
    readonly gpu: Gpu,
    readonly ckpt: Checkpoint,
    readonly plan: WeightsPlan,
    readonly block: readonly [number, number],
    readonly options: UploadOptions = {},
  ) {}

  /** A norm weight or bias as f32. */
  async vector(name: string): Promise<GPUBuffer> {
    const buffer = this.create(this.planOf(name, 'vector').parts[0].weight);
    writeStorage(this.gpu.device, buffer, 0, await this.readF32(name));
    return buffer;
  }

  /** A Linear weight [out, in] in the matmul layout, in the plan's format. */
  linear(name: string): Promise<MatmulWeight> {
    const plan = this.planOf(name, 'linear');
    return this.matmulRows(plan, plan.parts[0]);
  }

  /** A Linear weight split by output rows into the plan's parts (lm_head, the MTP head). */
  async rows(name: string): Promise<MatmulPart[]> {
    const plan = this.planOf(name, 'rows');
    const parts: MatmulPart[] = [];
    for (const part of plan.parts) parts.push({ firstRow: part.first, weight: await this.matmulRows(plan, part) });
    return parts;
  }

  /** Output rows [part.first, + part.count) of a matmul weight into the part's buffers, a piece at a time. */
  private async matmulRows(plan: WeightPlan, part: WeightPart): Promise<MatmulWeight> {
    const name = plan.key;
    const inDim = plan.shape[1];
    const info = this.ckpt.info(name);
    const format = plan.format as MatmulFormat;
    const buffer = this.create(part.weight);
    const scale = part.scale && this.create(part.scale);
    const srcBytes = info.dtype === 'F8_E4M3' ? 1 : info.dtype === 'BF16' || info.dtype === 'F16' ? 2 : 4;
    const fp8Quantizing = format === 'fp8' && info.dtype !== 'F8_E4M3';
    const q4Stored = format === 'q4' && info.dtype === 'I32';
    const [br, bc] = this.block;
    // Pieces of whole layout groups, and of whole FP8 blocks when quantizing or dequantizing FP8 here (parts start on both).
    const align = fp8Quantizing || (format === 'q4' && info.dtype === 'F8_E4M3') ? lcm(br, LAYOUT_ROW_ALIGN) : LAYOUT_ROW_ALIGN;
    const rowBytes = q4Stored ? q4Words(inDim) * 4 : inDim * srcBytes;
    const rowsPerPiece = Math.max(align, Math.floor(PIECE_BYTES / rowBytes / align) * align);
    const scaleCols = Math.ceil(inDim / bc);
    const groups = q4Groups(inDim, this.plan.q4Group);
    const end = part.first + part.count;
    for (let r0 = part.first; r0 < end; r0 += rowsPerPiece) {
      const r1 = Math.min(end, r0 + rowsPerPiece);
      let bytes: Uint8Array;
      if (q4Stored) {
        bytes = await this.read(name, r0 * rowBytes, r1 * rowBytes);
      } else if (format === 'q4') {
        const q = quantizeQ4(await this.rowsF32(name, r0, r1, inDim), r1 - r0, inDim, this.plan.q4Group);
        writeStorage(this.gpu.device, scale!, (r0 - part.first) * groups * 4, q.scale);
        bytes = new Uint8Array(q.codes.buffer);
      } else {
        bytes = await this.read(name, r0 * inDim * srcBytes, r1 * inDim * srcBytes);
        if (fp8Quantizing) {
          const q = quantizeFp8Blocks(decodeToF32(bytes, info.dtype, { file: info.file, tensor: name }), r1 - r0, inDim, br, bc);
          writeStorage(this.gpu.device, scale!, ((r0 - part.first) / br) * scaleCols * 4, q.scaleInv);
          bytes = q.codes;
        } else if (format === 'f32' && info.dtype !== 'F32') {
          bytes = new Uint8Array(decodeToF32(bytes, info.dtype, { file: info.file, tensor: name }).buffer);
        }
      }
      const piece = toMatmulLayout(format, bytes, r0 - part.first, part.count, inDim);
      writeStorage(this.gpu.device, buffer, piece.offset, piece.bytes);
    }
    const weight: MatmulWeight = { format, outDim: part.count, inDim, w: buffer };
    if (format === 'fp8') {
      // Stored scales: the part's block rows (parts start on a block row).
      if (!fp8Quantizing) writeStorage(this.gpu.device, scale!, 0, await this.readF32(fp8ScaleName(name), (part.first / br) * scaleCols, Math.ceil(end / br) * scaleCols));
      weight.scale = scale;
      weight.block = this.block;
    }
    if (format === 'q4') {
      if (q4Stored) writeStorage(this.gpu.device, scale!, 0, await this.readF32(q4ScaleName(name), part.first * groups, end * groups));
      weight.scale = scale;
      weight.block = [1, this.plan.q4Group];
    }
    return weight;
  }

  /**
   * Rows [r0, r1) of a [out, inDim] weight as f32: BF16/F16/F32 decoded, FP8 dequantized with its block scales
   * (r0 on a block row): the values the quantizers start from.
   */
  private async rowsF32(name: string, r0: number, r1: number, inDim: number): Promise<Float32Array> {
    const info = this.ckpt.info(name);
    if (info.dtype !== 'F8_E4M3') {
      const size = (info.end - info.begin) / info.shape.reduce((a, b) => a * b, 1);
      return decodeToF32(await this.read(name, r0 * inDim * size, r1 * inDim * size), info.dtype, { file: info.file, tensor: name });
    }
    const [br, bc] = this.block;
    const cols = Math.ceil(inDim / bc);
    const scale = await this.readF32(fp8ScaleName(name), (r0 / br) * cols, Math.ceil(r1 / br) * cols);
    return dequantFp8Block(await this.read(name, r0 * inDim, r1 * inDim), r1 - r0, inDim, scale, br, bc, name, info.file);
  }

  /**
   * Columns [c0, c1) of a BF16/F32 Linear weight [out, in] as its own matmul weight: y = W[:, c0:c1] · x.
   * (eh_proj multiplies the concatenation [enorm(e) ; hnorm(h)]; its two halves become two matmuls.)
   */
  async linearColumns(name: string, c0: number, c1: number): Promise<MatmulWeight> {
    const plan = this.planOf(columnsKey(name, c0, c1), 'columns');
    const info = this.ckpt.info(name);
    const [outDim, inDim] = info.shape;
    const format = plan.format as MatmulFormat;
    const size = format === 'bf16' ? 2 : 4;
    const width = c1 - c0;
    const buffer = this.create(plan.parts[0].weight);
    const rowsPerPiece = Math.max(LAYOUT_ROW_ALIGN, Math.floor(PIECE_BYTES / (inDim * size) / LAYOUT_ROW_ALIGN) * LAYOUT_ROW_ALIGN);
    for (let r0 = 0; r0 < outDim; r0 += rowsPerPiece) {
      const r1 = Math.min(outDim, r0 + rowsPerPiece);
      const rows = await this.read(name, r0 * inDim * size, r1 * inDim * size);
      const cols = new Uint8Array((r1 - r0) * width * size);
      for (let r = 0; r < r1 - r0; r++) cols.set(rows.subarray((r * inDim + c0) * size, (r * inDim + c1) * size), r * width * size);
      const piece = toMatmulLayout(format, cols, r0, outDim, width);
      writeStorage(this.gpu.device, buffer, piece.offset, piece.bytes);
    }
    return { format, outDim, inDim: width, w: buffer };
  }

  /** Raw tensor bytes as stored (kv_b_proj, read packed by the MLA kernels), with its FP8 scale if any. */
  async raw(name: string): Promise<{ dtype: string; w: GPUBuffer; scale?: GPUBuffer }> {
    const plan = this.planOf(name, 'raw');
    const { weight, scale } = plan.parts[0];
    const buffer = this.create(weight);
    await this.streamInto(name, buffer, 0);
    if (!scale) return { dtype: plan.format, w: buffer };
    const scaleBuffer = this.create(scale);
    writeStorage(this.gpu.device, scaleBuffer, 0, await this.readF32(fp8ScaleName(name)));
    return { dtype: plan.format, w: buffer, scale: scaleBuffer };
  }

  /**
   * gate, up and down of a layer's routed experts (or its shared expert), each stacked as [count, out, in] in
   * the plan's parts of whole experts: FP8 experts as stored with their stacked [count, ceil(out/128),
   * ceil(in/128)] scales; BF16 and F32 as stored, without scales; with quantize 'fp8', BF16/F32 experts
   * become FP8 128x128 blocks here, a piece of block rows at a time.
   */
  async experts(names: MlpNames[]): Promise<ExpertWeights> {
    const gate = this.planOf(names[0].gate, 'experts');
    const weights: ExpertWeights = {
      format: gate.format as ExpertFormat,
      gate: await this.expertStack(gate),
      up: await this.expertStack(this.planOf(names[0].up, 'experts')),
      down: await this.expertStack(this.planOf(names[0].down, 'experts')),
    };
    if (weights.format === 'q4') weights.group = this.plan.q4Group;
    return weights;
  }

  private async expertStack(plan: WeightPlan): Promise<ExpertPart[]> {
    const [outDim, inDim] = plan.shape;
    const format = plan.format as ExpertFormat;
    const parts: ExpertPart[] = [];
    for (const part of plan.parts) {
      const weight = this.create(part.weight);
      const scale = part.scale && this.create(part.scale);
      for (let i = 0; i < part.count; i++) {
        const w = { buffer: weight, offset: expertWeightBytes(format, i, outDim, inDim) };
        const s = scale && { buffer: scale, offset: expertScaleBytes(format, i, outDim, inDim, this.plan.q4Group) };
        await this.expertInto(plan.names![part.first + i], outDim, inDim, format, w, s);
      }
      parts.push({ firstExpert: part.first, count: part.count, weight, scale });
    }
    return parts;
  }

  /**
   * One expert [out, in] into `w` in `format` (FP8, q4: its scales into `s`): as stored, or converted a piece of rows
   * at a time. Also how an offloaded expert reaches its slot (./expert-offload.ts).
   */
  async expertInto(name: string, outDim: number, inDim: number, format: ExpertFormat, w: BufferAt, s?: BufferAt): Promise<void> {
    const info = this.ckpt.info(name);
    const [br, bc] = this.block;
    const group = this.plan.q4Group;
    if (STORED_FORMAT[info.dtype] === format) {
      await this.streamInto(name, w.buffer, w.offset);
      if (format === 'fp8') writeStorage(this.gpu.device, s!.buffer, s!.offset, await this.readF32(fp8ScaleName(name)));
      if (format === 'q4') writeStorage(this.gpu.device, s!.buffer, s!.offset, await this.readF32(q4ScaleName(name)));
      return;
    }
    // Quantized to FP8 blocks or q4, or widened to f32, in pieces of whole block rows (FP8 sources dequantize by block).
    const srcBytes = (info.end - info.begin) / (outDim * inDim);
    const rowsPerPiece = Math.max(br, Math.floor(PIECE_BYTES / (inDim * srcBytes) / br) * br);
    for (let r0 = 0; r0 < outDim; r0 += rowsPerPiece) {
      const r1 = Math.min(outDim, r0 + rowsPerPiece);
      const f32 = await this.rowsF32(name, r0, r1, inDim);
      if (format === 'fp8') {
        const q = quantizeFp8Blocks(f32, r1 - r0, inDim, br, bc);
        writeStorage(this.gpu.device, w.buffer, w.offset + r0 * inDim, q.codes);
        writeStorage(this.gpu.device, s!.buffer, s!.offset + (r0 / br) * Math.ceil(inDim / bc) * 4, q.scaleInv);
      } else if (format === 'q4') {
        const q = quantizeQ4(f32, r1 - r0, inDim, group);
        writeStorage(this.gpu.device, w.buffer, w.offset + r0 * q4Words(inDim) * 4, q.codes);
        writeStorage(this.gpu.device, s!.buffer, s!.offset + r0 * q4Groups(inDim, group) * 4, q.scale);
      } else {
        writeStorage(this.gpu.device, w.buffer, w.offset + r0 * inDim * 4, f32);
      }
    }
  }

  /** An embedding table [vocab, hidden] (BF16 or F32) in the plan's parts of whole rows. */
  async embedding(name: string): Promise<{ dtype: 'BF16' | 'F32'; parts: EmbeddingPart[] }> {
    const plan = this.planOf(name, 'embedding');
    const info = this.ckpt.info(name);
    const dtype = plan.format as 'BF16' | 'F32';
    const hidden = plan.shape[1];
    const rowBytes = hidden * (dtype === 'BF16' ? 2 : 4);
    const parts: EmbeddingPart[] = [];
    for (const { first, count: rows, weight } of plan.parts) {
      const table = this.create(weight);
      if (dtype === info.dtype) await this.streamInto(name, table, 0, first * rowBytes, (first + rows) * rowBytes);
      else writeStorage(this.gpu.device, table, 0, decodeToF32(await this.read(name, first * hidden * 2, (first + rows) * hidden * 2), info.dtype, { file: info.file, tensor: name }));
      parts.push({ table, firstRow: first, rows });
    }
    return { dtype, parts };
  }

  destroy(): void {
    for (const b of this.buffers.splice(0)) b.destroy();
  }

  /** The plan of a weight, which must be of `kind` (the upload asks for what the plan decided). */
  private planOf(key: string, kind: WeightKind): WeightPlan {
    const plan = this.plan.tensors.get(key);
    if (!plan || plan.kind !== kind) throw new Error(`weight upload: '${key}' is planned as ${plan?.kind ?? 'nothing'}, not ${kind}`);
    return plan;
  }

  private create(planned: PlannedBuffer): GPUBuffer {
    const buffer = createStorage(this.gpu.device, planned.bytes, planned.label);
    this.buffers.push(buffer);
    this.bytesOnGpu += buffer.size;
    return buffer;
  }

  /** Copies tensor bytes [begin, end) into buffer at offset, a piece at a time. */
  private async streamInto(name: string, buffer: GPUBuffer, offset: number, begin = 0, end?: number): Promise<void> {
    const info = this.ckpt.info(name);
    const stop = end ?? info.end - info.begin;
    for (let at = begin; at < stop; at += PIECE_BYTES) {
      const bytes = await this.read(name, at, Math.min(stop, at + PIECE_BYTES));
      writeStorage(this.gpu.device, buffer, offset + (at - begin), bytes);
    }
  }

  private async read(name: string, begin: number, end: number): Promise<Uint8Array> {
    const bytes = await this.ckpt.read(name, begin, end);
    const info = this.ckpt.info(name);
    const before = this.readOf.get(name) ?? 0;
    const after = Math.min(info.end - info.begin, before + bytes.length);
    this.readOf.set(name, after);
    this.bytesRead += after - before;
    this.options.onBytes?.(this.bytesRead);
    return bytes;
  }

  /** Elements [from, to) of a tensor as f32 (default: all of it). */
  private async readF32(name: string, from = 0, to?: number): Promise<Float32Array> {
    const info = this.ckpt.info(name);
    const size = (info.end - info.begin) / info.shape.reduce((a, b) => a * b, 1);
    const bytes = await this.read(name, from * size, to === undefined ? info.end - info.begin : to * size);
    return decodeToF32(bytes, info.dtype, { file: info.file, tensor: name });
  }
}
