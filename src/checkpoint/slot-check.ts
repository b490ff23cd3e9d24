// Checks an opened checkpoint against the slots a validated config defines (tensor-names.ts modelSlots):
// every tensor present, in a dtype its loader reads, with the config's shape, and FP8 weights with a
// block scale of the right dtype and shape. Runs when a model folder is opened, before anything is
// uploaded, so a relabelled or reshaped tensor is a CheckpointError naming it rather than garbage or a
// TypeError deep in the loader.
import type { ModelConfig } from '../config/model-config.ts';
import { CheckpointError, excerpt } from '../errors.ts';
import type { Checkpoint } from './checkpoint.ts';
import type { DType } from './dtypes.ts';
import type { TensorInfo } from './safetensors.ts';
import { fp8ScaleName, modelSlots, SCALE_DTYPES, SLOT_DTYPES } from './tensor-names.ts';

export function checkTensorSlots(ckpt: Checkpoint, c: ModelConfig): void {
  const [br, bc] = c.quantization?.weightBlockSize ?? [128, 128];
  for (const slot of modelSlots(c)) {
    if (!ckpt.has(slot.name)) {
      if (slot.mtp) continue; // loading with MTP reports it; without, it is not needed
      throw new CheckpointError(ckpt.name, `missing: the config needs this tensor, shape [${slot.shape.join(', ')}]`, slot.name);
    }
    const info = ckpt.info(slot.name);
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
