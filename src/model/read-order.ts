// The checkpoint tensors a load reads, in the order the upload (./weights.ts) first reads them: the weight
// plan lists weights in upload order. Checkpoint.prefetch() fetches ranges in this order, ahead of the upload.
import type { Checkpoint } from '../checkpoint/checkpoint.ts';
import { fp8ScaleName } from '../checkpoint/tensor-names.ts';
import { tensorOfKey, type WeightsPlan } from './weight-plan.ts';

/** Every tensor `plan` uploads (an FP8 weight's scale after it), each once, in upload order. */
export function tensorsInUploadOrder(plan: WeightsPlan, ckpt: Checkpoint): string[] {
  const names = new Set<string>();
  for (const weight of plan.tensors.values()) {
    for (const name of weight.names ?? [tensorOfKey(weight.key)]) {
      names.add(name);
      if (ckpt.has(fp8ScaleName(name))) names.add(fp8ScaleName(name));
    }
  }
  return [...names];
}
