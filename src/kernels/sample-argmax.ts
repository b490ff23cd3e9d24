// Greedy token choice, two stages: shaders/sample-argmax.wgsl (per-span candidates) and
// shaders/sample-argmax-merge.wgsl (the best candidate per row). Reference: src/reference/sample.ts.
import { defineKernel, expectBytes, expectThat } from '../gpu/kernel.ts';
import type { Bindable, Recorder } from '../gpu/recorder.ts';

const partialKernel = defineKernel({
  shader: 'sample-argmax',
  bindings: { logits: 'read', partial: 'read_write' },
  params: { rows: 'u32', vocab: 'u32', groups: 'u32', first_row: 'u32' },
  overrides: { WG_SIZE: 64 },
  grid: (p) => [p.groups, p.rows],
});

const mergeKernel = defineKernel({
  shader: 'sample-argmax-merge',
  bindings: { partial: 'read', token: 'read_write' },
  params: { rows: 'u32', groups: 'u32', first_row: 'u32' },
  overrides: { WG_SIZE: 64 },
  grid: (p) => [p.rows],
});

/**
 * Workgroups per row: one per 16384 logits (8 for V3's 129280). On SwiftShader each workgroup costs
 * ~15 µs of its own, so a few long ones win (V3: 127 groups 2.4 ms, 8 groups 0.7 ms, 4 groups 0.6 ms).
 */
export function argmaxGroups(vocab: number): number {
  return Math.max(1, Math.min(256, Math.ceil(vocab / 16384)));
}

/** Bytes of the `partial` scratch buffer for `rows` rows. */
export function argmaxScratchBytes(rows: number, vocab: number): number {
  return rows * argmaxGroups(vocab) * 8;
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
  const groups = argmaxGroups(p.vocab);
  const firstRow = p.firstRow ?? 0;
  expectThat('sample-argmax', p.rows <= 65535 && p.vocab > 0, `${p.rows} rows of ${p.vocab}`);
  expectBytes('sample-argmax', 'logits', b.logits, (firstRow + p.rows) * p.vocab * 4);
  expectBytes('sample-argmax', 'partial', b.partial, argmaxScratchBytes(p.rows, p.vocab));
  expectBytes('sample-argmax', 'token', b.token, (firstRow + p.rows) * 4);
  partialKernel.record(rec, { logits: b.logits, partial: b.partial }, { rows: p.rows, vocab: p.vocab, groups, first_row: firstRow });
  mergeKernel.record(rec, { partial: b.partial, token: b.token }, { rows: p.rows, groups, first_row: firstRow });
}
