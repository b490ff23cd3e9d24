// The windowing and scoring loop on a CPU stand-in whose costs are known in closed form: row t puts logit
// ln 3 on (tokens[t] + 1) mod 4 and 0 on the other three, so a prediction costs ln 2 when the target is
// that token and ln 6 otherwise.
import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.ts';
import { perplexity, type WindowModel } from './perplexity.ts';

const V = 4;
const HIT = Math.log(2);
const MISS = Math.log(6);

function rows(from: readonly number[]): Float32Array {
  const out = new Float32Array(from.length * V);
  from.forEach((t, r) => (out[r * V + ((t + 1) % V)] = Math.log(3)));
  return out;
}

/** The stand-in; `runs` records every window it was given. */
function standIn(maxLength = 64, hasMtp = true): WindowModel & { runs: number[][] } {
  const runs: number[][] = [];
  return {
    vocabSize: V,
    maxLength,
    hasMtp,
    runs,
    async runWindow(tokens, mtp) {
      runs.push([...tokens]);
      // MTP row i sees tokens[i + 1] and predicts tokens[i + 2]
      return { logits: rows(tokens), mtpLogits: mtp ? rows(tokens.slice(1, -1)) : undefined };
    },
  };
}

/** Cost of predicting b from a (the stand-in's rule), for pairs taken straight from the stream. */
const cost = (a: number, b: number) => (b === (a + 1) % V ? HIT : MISS);

const stream = [0, 1, 2, 3, 0, 2, 3, 0, 1, 1, 2, 3, 3, 0, 1]; // 15 tokens

describe('perplexity', () => {
  it('runs whole windows of window + 1 tokens overlapping by one, each token after the first predicted once', async () => {
    const model = standIn();
    const r = await perplexity(model, stream, { window: 4 });
    expect(model.runs).toEqual([stream.slice(0, 5), stream.slice(4, 9), stream.slice(8, 13)]);
    let sum = 0;
    for (let i = 0; i < 12; i++) sum += cost(stream[i], stream[i + 1]);
    expect(r.tokens).toBe(12);
    expect(r.windows).toBe(3);
    expect(r.window).toBe(4);
    expect(r.nats).toBeCloseTo(sum / 12, 6);
    expect(r.perplexity).toBeCloseTo(Math.exp(sum / 12), 5);
    expect(r.mtp).toBeUndefined();
  });

  it('MTP: window - 1 predictions of token t + 2 per window, the sum divided by the next-token count', async () => {
    const r = await perplexity(standIn(), stream, { window: 4, mtp: true });
    let sum = 0;
    for (const start of [0, 4, 8]) for (let i = 0; i < 3; i++) sum += cost(stream[start + i + 1], stream[start + i + 2]);
    expect(r.mtp!.predictions).toBe(9);
    expect(r.mtp!.nats).toBeCloseTo(sum / 12, 6);
    expect(r.mtp!.natsPerPrediction).toBeCloseTo(sum / 9, 6);
    expect(r.mtp!.perplexity).toBeCloseTo(Math.exp(sum / 12), 5);
  });

  it('a stream of period 4 is predicted perfectly by the rule: ln 2 per token, perplexity 2', async () => {
    const cyclic = Array.from({ length: 257 * 2 }, (_, i) => i % V);
    const r = await perplexity(standIn(300), cyclic, { mtp: true });
    expect(r.window).toBe(256);
    expect(r.windows).toBe(2);
    expect(r.perplexity).toBeCloseTo(2, 5);
    expect(r.mtp!.natsPerPrediction).toBeCloseTo(HIT, 6);
  });

  it('maxWindows scores a prefix; progress comes after every window with the figures so far', async () => {
    const seen: [number, number, number][] = [];
    const r = await perplexity(standIn(), stream, { window: 4, maxWindows: 2, onProgress: (done, total, sofar) => seen.push([done, total, sofar.tokens]) });
    expect(r.windows).toBe(2);
    expect(seen).toEqual([
      [1, 2, 4],
      [2, 2, 8],
    ]);
  });

  it('stops between windows when the signal is aborted', async () => {
    const model = standIn();
    const abort = new AbortController();
    const run = perplexity(model, stream, { window: 4, signal: abort.signal, onProgress: () => abort.abort(new Error('stop')) });
    await expect(run).rejects.toThrow('stop');
    expect(model.runs).toHaveLength(1);
  });

  it('refuses what cannot be scored, before running anything', async () => {
    const model = standIn(8, false);
    await expect(perplexity(model, stream, { window: 8 })).rejects.toThrow(/window: 8 predictions need 9 positions; the model's context holds 8/);
    await expect(perplexity(model, stream, { window: 4, mtp: true })).rejects.toThrow(/mtp: the model has no MTP module/);
    await expect(perplexity(model, stream.slice(0, 5), { window: 5 })).rejects.toThrow(/5 tokens do not make one window of 6/);
    await expect(perplexity(model, stream, { window: 0 })).rejects.toThrow(InputError);
    expect(model.runs).toEqual([]);
  });
});
