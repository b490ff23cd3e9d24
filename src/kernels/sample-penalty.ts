// Repetition penalty on one row of logits, in place: shaders/sample-penalty.wgsl.
// Reference: src/reference/sample.ts (penalizedLogits).
import { defineKernel, expectBytes } from '../gpu/kernel.ts';

export const samplePenalty = defineKernel({
  shader: 'sample-penalty',
  bindings: { tokens: 'read', logits: 'read_write' },
  params: { count: 'u32', vocab: 'u32', row: 'u32', penalty: 'f32', inv_penalty: 'f32' },
  overrides: { WG_SIZE: 64 },
  check: ({ tokens, logits }, p) => {
    expectBytes('sample-penalty', 'tokens', tokens, p.count * 4);
    expectBytes('sample-penalty', 'logits', logits, (p.row + 1) * p.vocab * 4);
  },
  grid: (p, o) => [Math.ceil(p.count / o.WG_SIZE)],
});
