// A checkpoint's [rows, cols] weight as the f32 values it stands for, whatever its storage: FP8 blocks
// dequantized with their scale_inv (docs/conventions.md "FP8"), q4 codes with their group scales
// (docs/q4.md), BF16/F16 widened. Used by the CPU reference and by `quantize`; only for tensors that fit
// in memory (the GPU loader streams instead).
import type { ModelConfig } from '../config/model-config.ts';
import { CheckpointError } from '../errors.ts';
import type { Checkpoint } from './checkpoint.ts';
import { dequantFp8Block } from './fp8-blocks.ts';
import { dequantQ4, q4Groups, q4Words } from './q4-quantize.ts';
import { fp8ScaleName, q4ScaleName } from './tensor-names.ts';

function expectShape(ckpt: Checkpoint, name: string, shape: number[]): void {
  const got = ckpt.info(name).shape;
  if (got.length !== shape.length || got.some((d: number, i: number) => d !== shape[i])) {
    throw new CheckpointError(ckpt.info(name).file, `shape [${got}] does not match the config's [${shape}]`, name);
  }
}

export async function readWeightF32(ckpt: Checkpoint, config: ModelConfig, name: string, rows: number, cols: number): Promise<Float32Array> {
  const info = ckpt.info(name);
  const q = config.quantization;
  if (q?.method === 'q4' && info.dtype === 'I32') {
    expectShape(ckpt, name, [rows, q4Words(cols)]);
    const scaleName = q4ScaleName(name);
    if (!ckpt.has(scaleName)) throw new CheckpointError(info.file, `q4 weight has no '${scaleName}'`, name);
    expectShape(ckpt, scaleName, [rows, q4Groups(cols, q.groupSize)]);
    const bytes = await ckpt.read(name);
    const codes = new Uint32Array(bytes.slice().buffer);
    return dequantQ4({ codes, scale: await ckpt.readF32(scaleName) }, rows, cols, q.groupSize, name, info.file);
  }
  expectShape(ckpt, name, [rows, cols]);
  if (info.dtype !== 'F8_E4M3') return ckpt.readF32(name);
  const [br, bc] = q?.weightBlockSize ?? [128, 128];
  const scaleName = fp8ScaleName(name);
  if (!ckpt.has(scaleName)) throw new CheckpointError(info.file, `FP8 weight has no '${scaleName}'`, name);
  expectShape(ckpt, scaleName, [Math.ceil(rows / br), Math.ceil(cols / bc)]);
  return dequantFp8Block(await ckpt.read(name), rows, cols, await ckpt.readF32(scaleName), br, bc, name, info.file);
}
