// The next token from one row of logits on the GPU, following a SampleRequest: the repetition penalty
// (shaders/sample-penalty.wgsl), then the greedy pick (sample-argmax) or temperature / top-k / top-p /
// min-p sampling with the request's random number (shaders/sample-filter.wgsl, then sample-draw.wgsl).
// Only the token id needs to come back. The rules and their f32 constants: src/sampling/rules.ts; the CPU
// oracle: src/reference/sample.ts (sampleToken).
import { defineKernel, expectBytes, expectThat } from '../gpu/kernel.ts';
import { workgroupKnob } from '../gpu/launch-shapes.ts';
import type { Bindable, Recorder } from '../gpu/recorder.ts';
import { isGreedy, sampleConstants, type SampleRequest } from '../sampling/rules.ts';
import { argmaxScratchBytes, recordArgmax } from './sample-argmax.ts';
import { penaltyEntries, samplePenalty } from './sample-penalty.ts';

export { argmaxScratchBytes } from './sample-argmax.ts';

/** Bytes of the scratch buffer recordSample needs for a row of `vocab` logits (the sampler's candidate ids). */
export function sampleScratchBytes(vocab: number): number {
  return Math.max((4 + vocab) * 4, argmaxScratchBytes(1, vocab));
}

export const sampleFilter = defineKernel({
  shader: 'sample-filter',
  bindings: { logits: 'read', scratch: 'read_write' },
  params: { vocab: 'u32', row: 'u32', inv_temperature: 'f32', top_k: 'u32', top_p: 'f32', ln_min_p: 'f32' },
  overrides: {},
  launch: workgroupKnob,
  check: ({ logits, scratch }, p, o) => {
    // The 16 histogram columns are summed by threads 0..15 (BINS in the shader).
    expectThat('sample-filter', o.WG_SIZE >= 16, `WG_SIZE ${o.WG_SIZE} must be at least 16`);
    expectBytes('sample-filter', 'logits', logits, (p.row + 1) * p.vocab * 4);
    expectBytes('sample-filter', 'scratch', scratch, (4 + p.vocab) * 4);
  },
  grid: () => [1],
});

export const sampleDraw = defineKernel({
  shader: 'sample-draw',
  bindings: { logits: 'read', scratch: 'read', token: 'read_write' },
  params: { vocab: 'u32', row: 'u32', inv_temperature: 'f32', random: 'f32' },
  overrides: {},
  launch: workgroupKnob,
  check: ({ token }, p) => {
    expectThat('sample-draw', p.random >= 0 && p.random < 1, `random ${p.random} must be in [0, 1)`);
    expectBytes('sample-draw', 'token', token, (p.row + 1) * 4);
  },
  grid: () => [1],
});

export interface SampleBuffers {
  /** [rows, vocab] f32; the penalty changes the sampled row in place. */
  logits: Bindable;
  /** [rows] u32: token[row] is written. */
  token: Bindable;
  /** Scratch of sampleScratchBytes(vocab) bytes. */
  scratch: Bindable;
  /** The request's penaltyEntries, packed (packPenalties), when it has any. */
  penalized?: Bindable;
}

/** Records the choice of token[row] from logits row `row` for `req` (req.penalizedTokens only counted). */
export function recordSample(rec: Recorder, b: SampleBuffers, req: SampleRequest, p: { vocab: number; row: number }): void {
  const c = sampleConstants(req);
  const count = penaltyEntries(req).length;
  if (count > 0) {
    expectThat('sample-penalty', b.penalized !== undefined, 'a penalty needs the penalty entries on the GPU');
    samplePenalty.record(rec, { entries: b.penalized!, logits: b.logits }, { count, vocab: p.vocab, row: p.row, penalty: c.penalty, inv_penalty: c.invPenalty });
  }
  if (isGreedy(req)) {
    recordArgmax(rec, { logits: b.logits, partial: b.scratch, token: b.token }, { vocab: p.vocab, rows: 1, firstRow: p.row });
    return;
  }
  const { vocab, row } = p;
  const lnMinP = Number.isFinite(c.lnMinP) ? c.lnMinP : -3.0e38; // the shader's "off"
  sampleFilter.record(rec, { logits: b.logits, scratch: b.scratch }, { vocab, row, inv_temperature: c.invTemperature, top_k: req.topK, top_p: req.topP, ln_min_p: lnMinP });
  sampleDraw.record(rec, { logits: b.logits, scratch: b.scratch, token: b.token }, { vocab, row, inv_temperature: c.invTemperature, random: req.random });
}
