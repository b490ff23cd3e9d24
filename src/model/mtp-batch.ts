// Greedy speculative decoding of batched sequences with the MTP module (docs/architecture.md "Batched
// decoding"), one submission per step for B sequences:
// 1. each drafting sequence's pending MTP rows (confirmed (hidden row, next token) pairs not yet in its MTP
//    cache: its hidden rows kept in `pendingHidden`, 2 rows per sequence slot) go through the MTP layer, one
//    segment per sequence; the last row of each segment drafts one token (lm head + argmax);
// 2. the main model verifies every row's [t, d] (a plain row: [t]) in one forward pass, one segment per
//    sequence, with one argmax over all rows;
// 3. the verify pass's hidden rows are copied into each sequence's pending rows; the drafts and choices come back
//    in one read-back, and acceptance is comparing ids (greedy only).
// The conventions are the single-sequence speculator's (src/model/mtp-speculator.ts): MTP row i = (h_i, t[i+1]).
import { InputError } from '../errors.ts';
import type { BatchSpeculator, SpeculativeRow } from '../decode/batch-lm.ts';
import type { Readback } from '../gpu/readback.ts';
import type { Recorder } from '../gpu/recorder.ts';
import { argmaxScratchBytes, recordArgmax } from '../kernels/sample-argmax.ts';
import type { SegmentRows } from '../kernels/row-map.ts';
import { GREEDY } from '../sampling/rules.ts';
import type { Activations } from './activations.ts';
import { placeRows, recordForward, recordLogits, type ForwardContext } from './forward.ts';
import type { CacheSequence } from './kv-cache.ts';
import { recordMtp, recordMtpLogits } from './mtp.ts';
import type { MtpSpeculator } from './mtp-speculator.ts';
import type { GpuMtp } from './weights.ts';

/** Pending MTP rows a sequence can hold between steps: the verified token and its accepted draft. */
export const PENDING_ROWS = 2;

/** Bytes of the pending hidden rows of `maxSequences` sequences (the memory plan counts them too). */
export function pendingHiddenBytes(c: { hiddenSize: number }, maxSequences: number): number {
  return maxSequences * PENDING_ROWS * c.hiddenSize * 4;
}

export interface MtpBatchParts {
  rec: Recorder;
  f: ForwardContext;
  act: Activations;
  mtp: GpuMtp;
  readback: Readback;
  /** The single-sequence speculator, whose prefill fills a sequence's caches. */
  speculator: MtpSpeculator;
  /** [maxSequences, PENDING_ROWS, H] f32: each sequence slot's pending hidden rows. */
  pendingHidden: GPUBuffer;
  work<T>(op: () => Promise<T>): Promise<T>;
}

export class MtpBatch implements BatchSpeculator<CacheSequence> {
  /** Tokens of each sequence's pending MTP rows (their hidden rows in pendingHidden at the sequence's slot). */
  private readonly pending = new Map<CacheSequence, number[]>();

  constructor(private readonly p: MtpBatchParts) {}

  /** The verify pass holds 2 rows per sequence, the MTP inputs (chunk + 2 rows) up to 2 pending rows each. */
  get maxBatch(): number {
    return Math.floor(Math.min(this.p.act.rows, this.p.act.logitRows) / 2);
  }

  prefill(seq: CacheSequence, prompt: readonly number[]): Promise<number> {
    return this.p.work(async () => {
      if (seq.length !== 0) throw new InputError('sequence', `holds ${seq.length} positions: a speculative prefill starts from an empty one`);
      // Cached pages only where the MTP's rows hold too (both caches go on from the same row), and at least
      // the last prompt token is run, for the first token's logits.
      const from = seq.startFromPrefix(this.p.rec, prompt, Math.floor((prompt.length - 1) / seq.cache.pageSize), true);
      const first = await this.p.speculator.prefillRows(seq, prompt.slice(from), GREEDY);
      seq.keepPrefix(prompt, seq.mtpLength); // pages the next step would still write (an MTP row) stay out
      // The last prompt row's hidden state, pending with the first token.
      const { rec, act } = this.p;
      rec.copy(act.mtpHidden, 0, this.p.pendingHidden, this.hiddenAt(seq, 0), this.rowBytes);
      rec.submit('batch speculative prefill');
      this.pending.set(seq, [first]);
      return first;
    });
  }

  step(rows: readonly SpeculativeRow<CacheSequence>[]): Promise<number[][]> {
    return this.p.work(() => this.stepNow(rows));
  }

  forget(seq: CacheSequence): void {
    this.pending.delete(seq);
  }

  /** As MtpSpeculator.replaceNext: the last pending row pairs the same hidden row, which does not depend on it, with `t`. */
  replaceNext(seq: CacheSequence, t: number): void {
    const p = this.pending.get(seq);
    if (!p) throw new InputError('batch', 'no chosen token to replace: the sequence has no draft state (prefill it with the speculator)');
    p[p.length - 1] = t;
  }

  private get rowBytes(): number {
    return this.p.f.c.hiddenSize * 4;
  }

  private hiddenAt(seq: CacheSequence, row: number): number {
    return (seq.slot * PENDING_ROWS + row) * this.rowBytes;
  }

  private async stepNow(rows: readonly SpeculativeRow<CacheSequence>[]): Promise<number[][]> {
    const { rec, f, act, mtp, pendingHidden } = this.p;
    const V = f.c.vocabSize;
    const rowBytes = this.rowBytes;
    if (rows.length < 1 || rows.length > this.maxBatch) throw new InputError('batch', `a speculative step takes 1 to ${this.maxBatch} sequences, got ${rows.length}`);
    const pending = rows.map(({ seq, token }, i) => {
      const p = this.pending.get(seq);
      if (!p || p.at(-1) !== token) throw new InputError('batch', `row ${i}: the sequence's pending draft state does not end with token ${token} (prefill it with the speculator)`);
      return p;
    });
    for (const [i, { seq, draft }] of rows.entries()) {
      seq.reserve(rec, Math.min(seq.mtpLength, seq.length), seq.length + (draft ? 2 : 1));
      if (draft && seq.length + 2 > seq.maxLength) throw new InputError('batch', `row ${i}: no room for a draft at ${seq.length} of ${seq.maxLength} positions`);
    }

    // 1. The drafting rows' pending MTP rows, one segment each; then one draft per segment from its last row.
    const drafting = rows.map((r, i) => i).filter((i) => rows[i].draft);
    const mtpSegs: SegmentRows[] = [];
    const mtpTokens: number[] = [];
    for (const i of drafting) {
      const { seq } = rows[i];
      rec.copy(pendingHidden, this.hiddenAt(seq, 0), act.mtpHidden, mtpTokens.length * rowBytes, pending[i].length * rowBytes);
      mtpSegs.push({ rows: pending[i].length, firstPos: seq.mtpLength, tableAt: seq.tableAt });
      mtpTokens.push(...pending[i]);
    }
    const D = drafting.length;
    // The verify rows: [t, d] for a drafting row, [t] for a plain one; drafts land in act.tokens by copies.
    const verifyAt: number[] = [];
    const verifyTokens: number[] = [];
    for (const r of rows) {
      verifyAt.push(verifyTokens.length);
      verifyTokens.push(r.token, ...(r.draft ? [0] : []));
    }
    const N = verifyTokens.length;
    if (argmaxScratchBytes(N, V) > act.sampleScratch.size) throw new InputError('batch', `${N} verify rows exceed the sampler's scratch`);
    rec.write(act.tokens, 0, Uint32Array.from(verifyTokens));
    if (D > 0) {
      rec.write(act.mtpTokens, 0, Uint32Array.from(mtpTokens));
      recordMtp(rec, f, mtp, { hidden: act.mtpHidden, tokens: act.mtpTokens }, mtpSegs, 'all');
      // Each segment's last output row to row j of mtpHidden (consumed by now), the head on the D rows.
      let end = 0;
      mtpSegs.forEach((g, j) => {
        end += g.rows;
        rec.copy(act.x, (end - 1) * rowBytes, act.mtpHidden, j * rowBytes, rowBytes);
      });
      recordMtpLogits(rec, mtp, { buffer: act.mtpHidden, offset: 0, size: D * rowBytes }, act.draftLogits, D);
      recordArgmax(rec, { logits: act.draftLogits, partial: act.sampleScratch, token: act.sampled }, { vocab: V, rows: D });
      this.p.readback.record(rec, act.sampled, 0, D * 4);
      drafting.forEach((i, j) => rec.copy(act.sampled, j * 4, act.tokens, (verifyAt[i] + 1) * 4, 4));
    }

    // 2. Verify every row in one pass, one segment per sequence, one argmax over all rows.
    const segs = rows.map(({ seq, draft }) => ({ rows: draft ? 2 : 1, firstPos: seq.length, tableAt: seq.tableAt }));
    const offloading = recordForward(rec, f, placeRows(rec, f, segs));
    if (offloading) await offloading;
    recordLogits(rec, f, 0, N);
    recordArgmax(rec, { logits: act.logits, partial: act.sampleScratch, token: act.sampled }, { vocab: V, rows: N });
    this.p.readback.record(rec, act.sampled, 0, N * 4, D * 4);
    // 3. The drafting rows' verified hidden rows become their pending rows (as many as the step accepts + 1).
    for (const i of drafting) rec.copy(act.x, verifyAt[i] * rowBytes, pendingHidden, this.hiddenAt(rows[i].seq, 0), 2 * rowBytes);
    rec.submit('batch speculative step');
    const ids = Array.from(await this.p.readback.readU32(D + N, 'batch speculative step'));
    await rec.check();

    return rows.map(({ seq, draft, keep }, i) => {
      const choices = ids.slice(D + verifyAt[i], D + verifyAt[i] + (draft ? 2 : 1));
      if (!draft) {
        // A plain row leaves the MTP behind; the sequence can no longer speculate (it is at its last token).
        seq.length += 1;
        this.pending.delete(seq);
        return choices;
      }
      const d = ids[drafting.indexOf(i)];
      const accepted = keep !== false && d === choices[0] ? 1 : 0;
      const next = choices[accepted];
      seq.mtpLength += pending[i].length;
      seq.length += 1 + accepted;
      this.pending.set(seq, accepted ? [d, next] : [next]);
      return accepted ? [d, next] : [next];
    });
  }
}
