// Streams checkpoint tensors into GPU buffers in the layouts the kernels read: never a whole shard (or a
// whole large tensor) in JS memory, FP8 kept packed, BF16 optionally quantized to FP8 blocks (experts
// included). Every buffer made here is remembered so dispose() frees them all.
import type { Checkpoint } from '../checkpoint/checkpoint.ts';
import { decodeToF32 } from '../checkpoint/decode.ts';
import { quantizeFp8Blocks } from '../checkpoint/fp8-quantize.ts';
import { fp8ScaleName } from '../checkpoint/tensor-names.ts';
import { CheckpointError, GpuLimitError } from '../errors.ts';
import type { Gpu } from '../gpu/device.ts';
import { createStorage, writeStorage } from '../gpu/buffers.ts';
import type { EmbeddingPart } from '../kernels/embed.ts';
import { FORMAT_BYTES, LAYOUT_ROW_ALIGN, matmulLayoutBytes, toMatmulLayout, type MatmulFormat } from '../kernels/matmul-layout.ts';
import type { MatmulWeight } from '../kernels/matmul.ts';
import type { ExpertPart } from '../kernels/moe-experts.ts';
import { EXPERT_BLOCK, type ExpertFormat } from '../kernels/moe-weights.ts';

/** Bytes read from the checkpoint per piece of a large tensor. */
const PIECE_BYTES = 16 << 20;

/** A byte offset into a GPU buffer. */
type BufferAt = { buffer: GPUBuffer; offset: number };

/** Checkpoint dtypes the expert kernels read as stored. */
const STORED_FORMAT: Partial<Record<string, ExpertFormat>> = { F8_E4M3: 'fp8', BF16: 'bf16', F32: 'f32' };

export interface UploadOptions {
  /** 'fp8': BF16/F32 linear weights become FP8 e4m3 with 128x128 block scales at load (half of BF16's memory). */
  quantize?: 'fp8';
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
    readonly block: readonly [number, number],
    readonly options: UploadOptions = {},
  ) {}

  /** A norm weight or bias as f32 [length]. */
  async vector(name: string, length: number): Promise<GPUBuffer> {
    this.expectShape(name, [length]);
    return this.upload(name, await this.readF32(name));
  }

  /** A Linear weight [out, in] in the matmul layout; `quantize` applies unless `keepFormat`. */
  async linear(name: string, outDim: number, inDim: number, keepFormat = false): Promise<MatmulWeight> {
    this.expectShape(name, [outDim, inDim]);
    const info = this.ckpt.info(name);
    const format = this.formatOf(name, keepFormat);
    const buffer = this.create(name, matmulLayoutBytes(format, outDim, inDim));
    const srcBytes = info.dtype === 'F8_E4M3' ? 1 : info.dtype === 'BF16' || info.dtype === 'F16' ? 2 : 4;
    const quantizing = format === 'fp8' && info.dtype !== 'F8_E4M3';
    const [br, bc] = this.block;
    // Pieces of whole layout groups, and of whole scale blocks when quantizing here.
    const align = quantizing ? lcm(br, LAYOUT_ROW_ALIGN) : LAYOUT_ROW_ALIGN;
    const rowsPerPiece = Math.max(align, Math.floor(PIECE_BYTES / (inDim * srcBytes) / align) * align);
    const scaleCols = Math.ceil(inDim / bc);
    const scale = format === 'fp8' ? this.create(fp8ScaleName(name), Math.ceil(outDim / br) * scaleCols * 4) : undefined;
    for (let r0 = 0; r0 < outDim; r0 += rowsPerPiece) {
      const r1 = Math.min(outDim, r0 + rowsPerPiece);
      let bytes = await this.read(name, r0 * inDim * srcBytes, r1 * inDim * srcBytes);
      if (quantizing) {
        const q = quantizeFp8Blocks(decodeToF32(bytes, info.dtype, { file: info.file, tensor: name }), r1 - r0, inDim, br, bc);
        writeStorage(this.gpu.device, scale!, (r0 / br) * scaleCols * 4, q.scaleInv);
        bytes = q.codes;
      } else if (format === 'f32' && info.dtype !== 'F32') {
        bytes = new Uint8Array(decodeToF32(bytes, info.dtype, { file: info.file, tensor: name }).buffer);
      }
      const piece = toMatmulLayout(format, bytes, r0, outDim, inDim);
      writeStorage(this.gpu.device, buffer, piece.offset, piece.bytes);
    }
    const weight: MatmulWeight = { format, outDim, inDim, w: buffer };
    if (format === 'fp8') {
      if (!quantizing) {
        const scaleName = fp8ScaleName(name);
        this.expectShape(scaleName, [Math.ceil(outDim / br), scaleCols]);
        writeStorage(this.gpu.device, scale!, 0, await this.readF32(scaleName));
      }
      weight.scale = scale;
      weight.block = this.block;
    }
    return weight;
  }

  /**
   * Columns [c0, c1) of a BF16/F32 Linear weight [out, in] as its own matmul weight: y = W[:, c0:c1] · x.
   * (eh_proj multiplies the concatenation [enorm(e) ; hnorm(h)]; its two halves become two matmuls.)
   */
  async linearColumns(name: string, outDim: number, inDim: number, c0: number, c1: number): Promise<MatmulWeight> {
    this.expectShape(name, [outDim, inDim]);
    const info = this.ckpt.info(name);
    if (info.dtype !== 'BF16' && info.dtype !== 'F32') {
      throw new CheckpointError(info.file, `splitting columns needs a BF16 or F32 weight, got ${info.dtype}`, name);
    }
    const size = info.dtype === 'BF16' ? 2 : 4;
    const format: MatmulFormat = info.dtype === 'BF16' ? 'bf16' : 'f32';
    const width = c1 - c0;
    const buffer = this.create(name, matmulLayoutBytes(format, outDim, width));
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

  /** The GPU format of a Linear weight: FP8 stays FP8; BF16 stays BF16 unless quantizing; others become f32. */
  formatOf(name: string, keepFormat = false): MatmulFormat {
    const dtype = this.ckpt.info(name).dtype;
    if (dtype === 'F8_E4M3' || (this.options.quantize === 'fp8' && !keepFormat)) return 'fp8';
    return dtype === 'BF16' ? 'bf16' : 'f32';
  }

  /** Raw tensor bytes as stored (kv_b_proj, read packed by the MLA kernels), with its FP8 scale if any. */
  async raw(name: string, shape: number[]): Promise<{ dtype: string; w: GPUBuffer; scale?: GPUBuffer }> {
    this.expectShape(name, shape);
    const info = this.ckpt.info(name);
    const buffer = this.create(name, info.end - info.begin);
    await this.streamInto(name, buffer, 0);
    if (info.dtype !== 'F8_E4M3') return { dtype: info.dtype, w: buffer };
    const scale = fp8ScaleName(name);
    return { dtype: info.dtype, w: buffer, scale: this.upload(scale, await this.readF32(scale)) };
  }

  /**
   * One projection's experts [out, in] stacked as [count, out, in] in parts of whole experts that fit one
   * binding, in `format` (formatOf(names[0])): FP8 experts as stored with their stacked [count,
   * ceil(out/128), ceil(in/128)] scales; BF16 and F32 as stored, without scales; with quantize 'fp8',
   * BF16/F32 experts become FP8 128x128 blocks here, a piece of block rows at a time.
   */
  async expertStack(names: string[], outDim: number, inDim: number, perPart: number, format: ExpertFormat): Promise<ExpertPart[]> {
    const [br, bc] = this.block;
    if (format === 'fp8' && (br !== EXPERT_BLOCK || bc !== EXPERT_BLOCK)) {
      throw new CheckpointError(this.ckpt.info(names[0]).file, `FP8 experts need ${EXPERT_BLOCK}x${EXPERT_BLOCK} scale blocks (weight_block_size), got ${br}x${bc}`, names[0]);
    }
    const size = FORMAT_BYTES[format];
    const scaleBytes = Math.ceil(outDim / br) * Math.ceil(inDim / bc) * 4;
    const parts: ExpertPart[] = [];
    for (let first = 0; first < names.length; first += perPart) {
      const group = names.slice(first, first + perPart);
      const weight = this.create(group[0], group.length * outDim * inDim * size);
      const scale = format === 'fp8' ? this.create(fp8ScaleName(group[0]), group.length * scaleBytes) : undefined;
      for (const [i, name] of group.entries()) {
        this.expectShape(name, [outDim, inDim]);
        const info = this.ckpt.info(name);
        if (this.formatOf(name) !== format) {
          throw new CheckpointError(info.file, `one projection's experts must share a dtype; got ${info.dtype} beside ${this.ckpt.info(names[0]).dtype}`, name);
        }
        const w = { buffer: weight, offset: i * outDim * inDim * size };
        await this.expertInto(name, outDim, inDim, format, w, scale && { buffer: scale, offset: i * scaleBytes });
      }
      parts.push({ firstExpert: first, count: group.length, weight, scale });
    }
    return parts;
  }

  /** One expert [out, in] into `w` in `format` (FP8: its scales into `s`): as stored, or converted a piece of rows at a time. */
  private async expertInto(name: string, outDim: number, inDim: number, format: ExpertFormat, w: BufferAt, s?: BufferAt): Promise<void> {
    const info = this.ckpt.info(name);
    const [br, bc] = this.block;
    if (STORED_FORMAT[info.dtype] === format) {
      await this.streamInto(name, w.buffer, w.offset);
      if (format !== 'fp8') return;
      const scaleName = fp8ScaleName(name);
      this.expectShape(scaleName, [Math.ceil(outDim / br), Math.ceil(inDim / bc)]);
      writeStorage(this.gpu.device, s!.buffer, s!.offset, await this.readF32(scaleName));
      return;
    }
    // Quantized to FP8 blocks (pieces of whole block rows) or widened to f32.
    const srcBytes = (info.end - info.begin) / (outDim * inDim);
    const rowsPerPiece = Math.max(br, Math.floor(PIECE_BYTES / (inDim * srcBytes) / br) * br);
    for (let r0 = 0; r0 < outDim; r0 += rowsPerPiece) {
      const r1 = Math.min(outDim, r0 + rowsPerPiece);
      const f32 = decodeToF32(await this.read(name, r0 * inDim * srcBytes, r1 * inDim * srcBytes), info.dtype, { file: info.file, tensor: name });
      if (format === 'fp8') {
        const q = quantizeFp8Blocks(f32, r1 - r0, inDim, br, bc);
        writeStorage(this.gpu.device, w.buffer, w.offset + r0 * inDim, q.codes);
        writeStorage(this.gpu.device, s!.buffer, s!.offset + (r0 / br) * Math.ceil(inDim / bc) * 4, q.scaleInv);
      } else {
        writeStorage(this.gpu.device, w.buffer, w.offset + r0 * inDim * 4, f32);
      }
    }
  }

  /** An embedding table [vocab, hidden] (BF16 or F32) in parts of whole rows that fit one binding. */
  async embedding(name: string, vocab: number, hidden: number): Promise<{ dtype: 'BF16' | 'F32'; parts: EmbeddingPart[] }> {
    this.expectShape(name, [vocab, hidden]);
    const info = this.ckpt.info(name);
    const dtype = info.dtype === 'BF16' ? 'BF16' : 'F32';
    const rowBytes = hidden * (dtype === 'BF16' ? 2 : 4);
    const rowsPerPart = Math.floor(this.maxBinding() / rowBytes);
    const parts: EmbeddingPart[] = [];
    for (let first = 0; first < vocab; first += rowsPerPart) {
      const rows = Math.min(rowsPerPart, vocab - first);
      const table = this.create(name, rows * rowBytes);
      if (dtype === info.dtype) await this.streamInto(name, table, 0, first * rowBytes, (first + rows) * rowBytes);
      else writeStorage(this.gpu.device, table, 0, decodeToF32(await this.read(name, first * hidden * 2, (first + rows) * hidden * 2), info.dtype, { file: info.file, tensor: name }));
      parts.push({ table, firstRow: first, rows });
    }
    return { dtype, parts };
  }

  destroy(): void {
    for (const b of this.buffers.splice(0)) b.destroy();
  }

  private maxBinding(): number {
    return Math.min(this.gpu.limits.maxStorageBufferBindingSize, this.gpu.limits.maxBufferSize);
  }

  private create(name: string, bytes: number): GPUBuffer {
    if (bytes > this.maxBinding()) {
      throw new GpuLimitError('maxStorageBufferBindingSize', bytes, this.maxBinding(), `tensor '${name}' (${(bytes / 2 ** 20).toFixed(1)} MiB in one binding)`);
    }
    const buffer = createStorage(this.gpu.device, bytes, name);
    this.buffers.push(buffer);
    this.bytesOnGpu += buffer.size;
    return buffer;
  }

  private upload(name: string, data: Float32Array): GPUBuffer {
    const buffer = this.create(name, data.byteLength);
    writeStorage(this.gpu.device, buffer, 0, data);
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

  private async readF32(name: string): Promise<Float32Array> {
    const info = this.ckpt.info(name);
    const bytes = await this.read(name, 0, info.end - info.begin);
    return decodeToF32(bytes, info.dtype, { file: info.file, tensor: name });
  }

  private expectShape(name: string, shape: number[]): void {
    const info = this.ckpt.info(name);
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      throw new CheckpointError(info.file, `shape [${info.shape}] does not match the config's [${shape}]`, name);
    }
  }
}

function lcm(a: number, b: number): number {
  const gcd = (x: number, y: number): number => (y === 0 ? x : gcd(y, x % y));
  return (a / gcd(a, b)) * b;
}
