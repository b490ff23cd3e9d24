// The multi-token-prediction module on the GPU (docs/conventions.md "MTP"): for row i,
// x = eh_proj([enorm(embed(t[i+1])) ; hnorm(h_i)]) with h_i the main model's hidden state after the final
// norm, then the MTP decoder layer over its own latent cache at position i, then shared_head.
// Leaves shared_head.norm(y) in act.x (what the head consumes, and what a chained draft feeds back).
//
// The MTP is a single layer, so a row's output feeds nothing but the head: a row whose prediction is not
// wanted only owes the rows after it its latent cache row (eh_proj, input norm, kv_a, kv-append). `outputs`
// says which rows' predictions are wanted: all of them, only the last (a speculative step drafts from its
// last pending row: one row through attention and the MoE instead of all pending rows), or none (prefill,
// which only fills the MTP cache).
import type { Bindable, Recorder } from '../gpu/recorder.ts';
import { recordEmbed } from '../kernels/embed.ts';
import { recordMatmul, recordMatmulParts } from '../kernels/matmul.ts';
import { rmsnorm } from '../kernels/rmsnorm.ts';
import { placeRows, recordLatentRows, recordLayer, type ForwardContext } from './forward.ts';
import type { SegmentRows } from '../kernels/row-map.ts';
import type { GpuMtp } from './weights.ts';

/** Which rows' predictions recordMtp computes; 'last' and 'none' only fill the cache for the others. */
export type MtpOutputs = 'all' | 'last' | 'none';

/**
 * `hidden`: [rows, H] main-model states after the final norm; `tokens`: [rows] u32, each row's next token; the rows
 * are the segments' positions in the MTP layer's pool (f.cache.mtpLayer), one segment per sequence in row order.
 * Output in act.x: [rows, H] for 'all', [1, H] (the last row's) for 'last', nothing for 'none'; 'last' and 'none'
 * take one sequence.
 */
export function recordMtp(
  rec: Recorder,
  f: ForwardContext,
  mtp: GpuMtp,
  input: { hidden: Bindable; tokens: Bindable },
  segs: readonly SegmentRows[],
  outputs: MtpOutputs = 'all',
): void {
  const { c, act } = f;
  const cache = f.cache.mtpLayer!;
  if (outputs !== 'all' && segs.length !== 1) throw new Error(`recordMtp: outputs '${outputs}' take one sequence, got ${segs.length}`);
  const rows = segs.reduce((n, g) => n + g.rows, 0);
  const { firstPos: pos, tableAt } = segs[0];
  const map = (n: number, from: number) => placeRows(rec, f, [{ rows: n, firstPos: from, tableAt }]);
  const H = c.hiddenSize;
  const norm = { rows, dim: H, eps: c.rmsNormEps };
  rmsnorm.record(rec, { x: input.hidden, weight: mtp.hnorm, out: act.mtpHn }, norm);
  recordEmbed(rec, mtp.embed.dtype, mtp.embed.parts, input.tokens, act.h, { rows, hidden: H, vocab: c.vocabSize });
  rmsnorm.record(rec, { x: act.h, weight: mtp.enorm, out: act.mtpE }, norm);
  const lastAt = (rows - 1) * H * 4; // the last row's inputs: the matmul takes any row offset (a param)
  if (outputs === 'all') {
    recordEh(rec, mtp, act.mtpE, act.mtpHn, act.h, rows); // h: [rows, H]
    recordLayer(rec, f, mtp.layer, cache, placeRows(rec, f, segs));
  }
  const cacheOnly = outputs === 'last' ? rows - 1 : outputs === 'none' ? rows : 0;
  if (cacheOnly > 0) {
    recordEh(rec, mtp, act.mtpE, act.mtpHn, act.h, cacheOnly);
    recordLatentRows(rec, f, mtp.layer, cache, map(cacheOnly, pos));
  }
  if (outputs === 'last') {
    // The last row into row 0 of h, then the whole layer for it alone at its position.
    const row = (b: GPUBuffer) => ({ buffer: b, offset: lastAt, size: H * 4 });
    recordEh(rec, mtp, row(act.mtpE), row(act.mtpHn), act.h, 1);
    recordLayer(rec, f, mtp.layer, cache, map(1, pos + rows - 1));
  }
  if (outputs !== 'none') rmsnorm.record(rec, { x: act.h, weight: mtp.headNorm, out: act.x }, { ...norm, rows: outputs === 'last' ? 1 : rows });
}

/** h = eh_proj[:, :H] · e + eh_proj[:, H:] · hn for `rows` rows (e, hn: [rows, H] from their bindings' start). */
function recordEh(rec: Recorder, mtp: GpuMtp, e: Bindable, hn: Bindable, h: GPUBuffer, rows: number): void {
  recordMatmul(rec, mtp.ehE, e, h, rows); //                     h = eh_proj[:, :H] · enorm(e)
  recordMatmul(rec, mtp.ehH, hn, h, rows, { accumulate: true }); // h += eh_proj[:, H:] · hnorm(h_i)
}

/** out[r] = shared_head.head(x[r]) for `count` rows: x [count, H] → out [count, vocab]. */
export function recordMtpLogits(rec: Recorder, mtp: GpuMtp, x: Bindable, out: Bindable, count: number): void {
  recordMatmulParts(rec, mtp.head, x, out, count);
}
