// Greedy token choice, two stages: shaders/sample-argmax.wgsl (per-span candidates) and
// shaders/sample-argmax-merge.wgsl (the best candidate per row). Reference: src/reference/sample.ts.
import { defineKernel, expectBytes, expectThat } from '../gpu/kernel.ts';
import { knob } from '../gpu/launch-profile.ts';
import { argmaxGroups, ARGMAX_MIN_SPAN, workgroupKnob } from '../gpu/launch-shapes.ts';
import type { Bindable, Recorder } from '../gpu/recorder.ts';

const partialKernel = defineKernel({
  shader: 'sample-argmax',
  bindings: { logits: 'read', partial: 'read_write' },
  params: { rows: 'u32', vocab: 'u32', groups: 'u32', first_row: 'u32' },
  overrides: {},
  launch: workgroupKnob,
  grid: (p) => [p.groups, p.rows],
});

const mergeKernel = defineKernel({
  shader: 'sample-argmax-merge',
  bindings: { partial: 'read', token: 'read_write' },
  params: { rows: 'u32', groups: 'u32', first_row: 'u32' },
  overrides: {},
  launch: workgroupKnob,
  grid: (p) => [p.rows],
});

/**
 * Bytes of the `partial` scratch buffer for `rows` rows: enough for any profile's groups per row (one per
 * SPAN logits, the profile's knob, at least ARGMAX_MIN_SPAN).
 */
export function argmaxScratchBytes(rows: number, vocab: number): number {
  return rows * argmaxGroups(vocab, ARGMAX_MIN_SPAN) * 8;
}

/**
 * token[r] = argmax of logits row r (ties: the lowest id) for rows [firstRow, firstRow + rows).
 * logits: [*, vocab] f32 · partial: scratch of argmaxScratchBytes(rows, vocab) · token: [*] u32.
 */
export function recordArgmax(
  rec: Recorder,
  b: { logits: Bindable; partial: Bindable; token: Bindable },
  p: { vocab: number; rows: number; firstRow?: number },
): void {
  const groups = argmaxGroups(p.vocab, knob(rec.profile, 'sample-argmax', 'SPAN'));
  const firstRow = p.firstRow ?? 0;
  expectThat('sample-argmax', p.rows <= 65535 && p.vocab > 0, `${p.rows} rows of ${p.vocab}`);
  expectBytes('sample-argmax', 'logits', b.logits, (firstRow + p.rows) * p.vocab * 4);
  expectBytes('sample-argmax', 'partial', b.partial, argmaxScratchBytes(p.rows, p.vocab));
  expectBytes('sample-argmax', 'token', b.token, (firstRow + p.rows) * 4);
  partialKernel.record(rec, { logits: b.logits, partial: b.partial }, { rows: p.rows, vocab: p.vocab, groups, first_row: firstRow });
  mergeKernel.record(rec, { partial: b.partial, token: b.token }, { rows: p.rows, groups, first_row: firstRow });
}
