// Speculative decoding with the MTP module, the GPU half: drafting with the MTP head and verifying the drafts
// with the main model in one submission per step. The acceptance rule lives in src/decode/speculative.ts.
//
// Conventions (docs/conventions.md "MTP"): MTP row i = (h_i, t[i+1]) predicts t[i+2], at rotary position i,
// over the MTP's own latent cache. The MTP only ever runs on confirmed tokens except for chained drafts:
// - "pending" rows are confirmed (hidden row, next token) pairs not yet in the MTP cache; their hidden rows
//   sit in act.mtpHidden[0..m) (copied there by the previous verify or prefill chunk);
// - a step appends the pending rows (their last row yields draft 1), chains drafts 2..K by feeding the MTP's
//   own output state (shared_head.norm(y)) back with the previous draft (SGLang's convention; those rows are
//   dropped from the MTP cache after the step), then runs the main model on [t, d1..dK] and samples each row.
// Cache rollback is a length change: rows past `length` are never read.
import { isPlainArgmax, type SampleRequest } from '../sampling/rules.ts';
import { InputError } from '../errors.ts';
import type { Gpu } from '../gpu/device.ts';
import { readStorage } from '../gpu/buffers.ts';
import type { Readback } from '../gpu/readback.ts';
import type { Bindable, Recorder } from '../gpu/recorder.ts';
import { recordArgmax } from '../kernels/sample-argmax.ts';
import { recordSample } from '../kernels/sample.ts';
import type { Activations } from './activations.ts';
import { chunks } from './chunks.ts';
import { placeRows, recordForward, recordLogits, type ForwardContext } from './forward.ts';
import type { CacheSequence } from './kv-cache.ts';
import { recordMtp, recordMtpLogits } from './mtp.ts';
import type { GpuMtp } from './weights.ts';

export interface SpeculatorParts {
  gpu: Gpu;
  rec: Recorder;
  f: ForwardContext;
  act: Activations;
  /** The sequence both caches' rows belong to (length: the main cache's, mtpLength: the MTP's). */
  seq: CacheSequence;
  mtp: GpuMtp;
  readback: Readback;
  /** The penalized-token buffer for a request (src/kernels/sample.ts), or undefined. */
  penalized(sample: SampleRequest): Bindable | undefined;
  /** Runs a GPU operation of the model's, one at a time and never after dispose() (DeepseekModel.work). */
  work<T>(op: () => Promise<T>): Promise<T>;
}

export interface SpeculativeStep {
  /** The drafted tokens d1..dK. */
  drafts: number[];
  /** The main model's choice after t, d1, ..., dK (K+1 tokens), under the verify requests. */
  predictions: number[];
  /** With `logits`: the main model's logits [K+1, vocab] and the drafts' [K, vocab] (after no penalty). */
  mainLogits?: Float32Array;
  draftLogits?: Float32Array;
}

export class MtpSpeculator {
  private pending: number[] = []; // tokens of the pending rows; hidden rows in act.mtpHidden[0..)

  constructor(private readonly p: SpeculatorParts) {}

  /** Most drafts one step can verify (the verify pass is one forward call). */
  get maxDrafts(): number {
    return this.p.act.rows - 1;
  }

  get length(): number {
    return this.p.seq.length;
  }

  /**
   * Prefills the prompt through the main model and the MTP (filling both caches), samples the first token.
   * The last prompt row stays pending until that token is known.
   */
  prefill(prompt: readonly number[], sample: SampleRequest): Promise<number> {
    return this.p.work(async () => {
      this.pending = [];
      const first = await this.prefillRows(this.p.seq, prompt, sample);
      this.pending = [first];
      return first;
    });
  }

  /**
   * The prefill of `seq` (inside the model's work()): both caches filled, the first token chosen and returned;
   * the last prompt row's hidden state is left in act.mtpHidden row 0, pending until that token is known.
   */
  async prefillRows(seq: CacheSequence, prompt: readonly number[], sample: SampleRequest): Promise<number> {
    const { rec, f, act, mtp } = this.p;
    const H = f.c.hiddenSize;
    if (seq.mtpLength !== seq.length) {
      throw new InputError('speculative', `the MTP cache holds ${seq.mtpLength} rows for ${seq.length} positions: start from an empty cache (truncate(0)) or decode without speculation`);
    }
    let pending: number[] = [];
    for (const { start: a, end, last } of chunks(prompt.length, act.rows)) {
      const n = end - a;
      rec.write(act.tokens, 0, Uint32Array.from(prompt.slice(a, a + n)));
      seq.reserve(rec, seq.mtpLength, seq.length + n);
      const offloading = recordForward(rec, f, placeRows(rec, f, [{ rows: n, firstPos: seq.length, tableAt: seq.tableAt }]));
      if (offloading) await offloading;
      seq.length += n;
      if (last) {
        recordLogits(rec, f, n - 1, 1); // logits row 0 <- the last prompt position
        this.recordChoice(act.logits, 0, sample, act.sampled);
      }
      // MTP rows (h_j, t[j+1]) for j = a-1 (pending) .. a+n-2: hidden rows go after the pending one.
      const m = pending.length; // 0 or 1
      rec.copy(act.x, 0, act.mtpHidden, m * H * 4, (n - 1) * H * 4);
      rec.copy(act.x, (n - 1) * H * 4, act.mtpSavedRow, 0, H * 4);
      const tokens = [...pending, ...prompt.slice(a + 1, a + n)];
      if (tokens.length) {
        rec.write(act.mtpTokens, 0, Uint32Array.from(tokens));
        // Prefill only fills the MTP cache: no row's prediction is read.
        recordMtp(rec, f, mtp, { hidden: act.mtpHidden, tokens: act.mtpTokens }, [{ rows: tokens.length, firstPos: seq.mtpLength, tableAt: seq.tableAt }], 'none');
        seq.mtpLength += tokens.length;
      }
      rec.copy(act.mtpSavedRow, 0, act.mtpHidden, 0, H * 4);
      pending = last ? [] : [prompt[a + n]];
      if (last) this.p.readback.record(rec, act.sampled, 0, 4);
      rec.submit();
    }
    const [first] = await this.p.readback.readU32(1);
    await rec.pipelines.check();
    return first;
  }

  /**
   * Drafts `draft.length` tokens after `t` and verifies them: `t` is the last confirmed token (not yet in
   * the main cache), the pending rows end with it. `verify` has one request per main row (K+1); with
   * `logits`, both models' logits are read back (the sampling acceptance rule needs p and q).
   */
  step(t: number, draft: SampleRequest[], verify: SampleRequest[], logits: boolean): Promise<SpeculativeStep> {
    return this.p.work(() => this.stepNow(t, draft, verify, logits));
  }

  private async stepNow(t: number, draft: SampleRequest[], verify: SampleRequest[], logits: boolean): Promise<SpeculativeStep> {
    const { gpu, rec, f, act, seq, mtp } = this.p;
    const K = draft.length;
    const H = f.c.hiddenSize;
    const V = f.c.vocabSize;
    if (K < 1 || K > this.maxDrafts || verify.length !== K + 1) throw new Error(`speculative step: ${K} drafts with ${verify.length} verify requests`);
    if (this.pending.at(-1) !== t) throw new Error('speculative step: t must be the last pending token');
    // Draft k's logits go to row k of act.draftLogits, so the sampler (which writes token[row] from logits row
    // `row`) puts d_k straight into act.tokens[k], the verify pass's input. Row 0 is unused.
    const m = this.pending.length;
    const mtpStart = seq.mtpLength;
    // The MTP writes rows mtpStart .. mtpStart + m + K - 2 (pending rows and chained drafts), the main model
    // rows length .. length + K.
    seq.reserve(rec, mtpStart, Math.max(seq.length + K + 1, mtpStart + m + K - 1));
    rec.write(act.mtpTokens, 0, Uint32Array.from(this.pending));
    rec.write(act.tokens, 0, Uint32Array.of(t));

    // Draft 1 from the pending rows; drafts 2..K from the MTP's own output and the previous draft, fed
    // through row 0 of the MTP inputs (the pending rows there have been consumed by then).
    // Only the last pending row's prediction is drafted from: the others just enter the MTP cache. Each
    // MTP output (one row, in act.x row 0) drafts one token.
    const inputs = { hidden: act.mtpHidden, tokens: act.mtpTokens };
    const at = (rows: number, firstPos: number) => [{ rows, firstPos, tableAt: seq.tableAt }];
    recordMtp(rec, f, mtp, inputs, at(m, mtpStart), 'last');
    for (let k = 1; k <= K; k++) {
      const out = { buffer: act.draftLogits, offset: k * V * 4, size: V * 4 };
      recordMtpLogits(rec, mtp, { buffer: act.x, offset: 0, size: H * 4 }, out, 1);
      this.recordChoice(act.draftLogits, k, draft[k - 1], act.tokens); // d_k -> act.tokens[k]
      if (k === K) break;
      rec.copy(act.x, 0, act.mtpHidden, 0, H * 4);
      rec.copy(act.tokens, k * 4, act.mtpTokens, 0, 4);
      recordMtp(rec, f, mtp, inputs, at(1, mtpStart + m + k - 1), 'last');
    }

    // Verify [t, d1..dK] in one forward pass, choose after every row, keep the hidden rows for the next step.
    const offloading = recordForward(rec, f, placeRows(rec, f, [{ rows: K + 1, firstPos: seq.length, tableAt: seq.tableAt }]));
    if (offloading) await offloading;
    recordLogits(rec, f, 0, K + 1);
    if (verify.every(isPlainArgmax)) {
      // Every row greedy without a penalty: one argmax over the K+1 rows (2 dispatches, not 2 per row).
      recordArgmax(rec, { logits: act.logits, partial: act.sampleScratch, token: act.sampled }, { vocab: V, rows: K + 1 });
    } else {
      for (let i = 0; i <= K; i++) this.recordChoice(act.logits, i, verify[i], act.sampled); // -> act.sampled[i]
    }
    rec.copy(act.x, 0, act.mtpHidden, 0, (K + 1) * H * 4);
    // One read-back: [d1..dK | the K+1 choices].
    this.p.readback.record(rec, act.tokens, 4, K * 4);
    this.p.readback.record(rec, act.sampled, 0, (K + 1) * 4, K * 4);
    rec.submit('speculative step');
    const ids = Array.from(await this.p.readback.readU32(2 * K + 1, 'speculative step'));
    await rec.check();
    const drafts = ids.slice(0, K);
    const predictions = ids.slice(K);
    const result: SpeculativeStep = { drafts, predictions };
    if (logits) {
      const [main, q] = await Promise.all([readStorage(gpu.device, act.logits, 0, (K + 1) * V * 4), readStorage(gpu.device, act.draftLogits, V * 4, K * V * 4)]);
      result.mainLogits = new Float32Array(main);
      result.draftLogits = new Float32Array(q);
    }
    // Provisional lengths: every verified row and only the pending MTP rows; commit() settles them.
    seq.length += K + 1;
    seq.mtpLength = mtpStart + m;
    return result;
  }

  /**
   * After a step: `accepted` drafts were kept and `next` is the token chosen after them. The main cache
   * keeps t and the accepted drafts; the pending rows become those positions with their next tokens.
   */
  commit(step: SpeculativeStep, accepted: number, next: number): void {
    const K = step.drafts.length;
    this.p.seq.length -= K - accepted; // rows of rejected drafts
    this.pending = [...step.drafts.slice(0, accepted), next];
  }

  /**
   * The last pending token (the choice after the last confirmed position) becomes `t`, a token the caller
   * emits instead (a forced one): its MTP row pairs the same hidden state, which does not depend on it, with `t`.
   */
  replaceNext(t: number): void {
    if (this.pending.length === 0) throw new Error('speculative: no chosen token to replace (prefill first)');
    this.pending[this.pending.length - 1] = t;
  }

  /** Forget everything (a new sequence). */
  reset(): void {
    this.p.seq.truncate(0);
    this.pending = [];
  }

  /** Chooses token[row] from row `row` of `logits` under `sample` (the penalty edits that row in place). */
  private recordChoice(logits: GPUBuffer, row: number, sample: SampleRequest, token: GPUBuffer): void {
    const args = { logits, token, scratch: this.p.act.sampleScratch, penalized: this.p.penalized(sample) };
    recordSample(this.p.rec, args, sample, { vocab: this.p.f.c.vocabSize, row });
  }
}
