// The multi-token-prediction module on the GPU (../shared/REFERENCE.md "MTP"): for row i,
// x = eh_proj([enorm(embed(t[i+1])) ; hnorm(h_i)]) with h_i the main model's hidden state after the final
// norm, then the MTP decoder layer over its own latent cache at position i, then shared_head.
// Leaves shared_head.norm(y) [rows, H] in act.x (what the head consumes, and what a chained draft feeds back).
import type { Bindable, Recorder } from '../gpu/recorder.ts';
import { recordEmbed } from '../kernels/embed.ts';
import { recordMatmul } from '../kernels/matmul.ts';
import { rmsnorm } from '../kernels/rmsnorm.ts';
import { recordLayer, type ForwardContext } from './forward.ts';
import type { GpuMtp } from './weights.ts';

/** `hidden`: [rows, H] main-model states after the final norm; `tokens`: [rows] u32, each row's next token. */
export function recordMtp(
  rec: Recorder,
  f: ForwardContext,
  mtp: GpuMtp,
  cache: GPUBuffer,
  input: { hidden: Bindable; tokens: Bindable },
  rows: number,
  pos: number,
): void {
  const { c, act } = f;
  const H = c.hiddenSize;
  const norm = { rows, dim: H, eps: c.rmsNormEps };
  rmsnorm.record(rec, { x: input.hidden, weight: mtp.hnorm, out: act.mtpHn }, norm);
  recordEmbed(rec, mtp.embed.dtype, mtp.embed.parts, input.tokens, act.h, { rows, hidden: H, vocab: c.vocabSize });
  rmsnorm.record(rec, { x: act.h, weight: mtp.enorm, out: act.mtpE }, norm);
  recordMatmul(rec, mtp.ehE, act.mtpE, act.h, rows); //                     h = eh_proj[:, :H] · enorm(e)
  recordMatmul(rec, mtp.ehH, act.mtpHn, act.h, rows, { accumulate: true }); // h += eh_proj[:, H:] · hnorm(h_i)
  recordLayer(rec, f, mtp.layer, cache, rows, pos);
  rmsnorm.record(rec, { x: act.h, weight: mtp.headNorm, out: act.x }, norm);
}

/** out[r] = shared_head.head(x[r]) for `count` rows: x [count, H] → out [count, vocab]. */
export function recordMtpLogits(rec: Recorder, mtp: GpuMtp, x: Bindable, out: Bindable, count: number): void {
  recordMatmul(rec, mtp.head, x, out, count);
}
