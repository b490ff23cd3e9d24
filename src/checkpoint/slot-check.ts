// Checks an opened checkpoint against the slots a validated config defines (tensor-names.ts modelSlots):
// every tensor present, in a dtype its loader reads, with the config's shape, and FP8 weights with a
// block scale of the right dtype and shape; in a q4 folder (docs/q4.md "Saved form") the q4 slots as packed
// I32 codes [out, ceil(in/8)] with an F32 group scale [out, ceil(in/group)], and nothing else. Runs when a model folder is opened, before anything is
// uploaded, so a relabelled or reshaped tensor is a CheckpointError naming it rather than garbage or a
// TypeError deep in the loader.
import type { ModelConfig } from '../config/model-config.ts';
import { CheckpointError, excerpt } from '../errors.ts';
import type { Checkpoint } from './checkpoint.ts';
import type { DType } from './dtypes.ts';
import type { TensorInfo } from './safetensors.ts';
import { q4Groups, q4Words } from './q4-quantize.ts';
import { fp8ScaleName, modelSlots, q4ScaleName, SCALE_DTYPES, SLOT_DTYPES, type TensorSlot } from './tensor-names.ts';

export function checkTensorSlots(ckpt: Checkpoint, c: ModelConfig): void {
  const [br, bc] = c.quantization?.weightBlockSize ?? [128, 128];
  for (const slot of modelSlots(c)) {
    if (!ckpt.has(slot.name)) {
      if (slot.mtp) continue; // loading with MTP reports it; without, it is not needed
      throw new CheckpointError(ckpt.name, `missing: the config needs this tensor, shape [${slot.shape.join(', ')}]`, slot.name);
    }
    const info = ckpt.info(slot.name);
    if (c.quantization?.method === 'q4' && slot.q4) {
      checkQ4Slot(ckpt, slot, info, c.quantization.groupSize);
      continue;
    }
    expectDtype(info, SLOT_DTYPES[slot.kind], `a ${slot.kind} weight`);
    expectShape(info, slot.shape);
    if (info.dtype !== 'F8_E4M3') continue;
    const scaleName = fp8ScaleName(slot.name);
    if (!ckpt.has(scaleName)) throw new CheckpointError(info.file, `FP8 weight has no ${excerpt(scaleName)}`, slot.name);
    const scale = ckpt.info(scaleName);
    expectDtype(scale, SCALE_DTYPES, 'an FP8 block scale');
    expectShape(scale, [Math.ceil(slot.shape[0] / br), Math.ceil(slot.shape[1] / bc)]);
  }
}

function checkQ4Slot(ckpt: Checkpoint, slot: TensorSlot, info: TensorInfo, group: number): void {
  const [out, inDim] = slot.shape;
  expectDtype(info, ['I32'], 'q4 codes (quantization_config says deepseek-webgpu-q4)');
  expectShape(info, [out, q4Words(inDim)]);
  const scaleName = q4ScaleName(slot.name);
  if (!ckpt.has(scaleName)) throw new CheckpointError(info.file, `q4 weight has no ${excerpt(scaleName)}`, slot.name);
  const scale = ckpt.info(scaleName);
  expectDtype(scale, ['F32'], 'a q4 group scale');
  expectShape(scale, [out, q4Groups(inDim, group)]);
}

function expectDtype(info: TensorInfo, accepted: readonly DType[], what: string): void {
  if (!accepted.includes(info.dtype)) {
    throw new CheckpointError(info.file, `dtype ${info.dtype} is not read as ${what}; accepted: ${accepted.join(', ')}`, info.name);
  }
}

function expectShape(info: TensorInfo, shape: number[]): void {
  if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
    throw new CheckpointError(info.file, `shape ${excerpt(info.shape)} does not match the config's [${shape.join(', ')}]`, info.name);
  }
}
