// Token choice on the GPU (sample-argmax, sample, sample-penalty via recordSample) against
// src/reference/sample.ts: token ids compared exactly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SampleRequest } from '../src/decode/causal-lm.ts';
import { withKnobs } from '../src/gpu/launch-profile.ts';
import { recordSample, sampleScratchBytes } from '../src/kernels/sample.ts';
import { packPenalties, penaltyEntries } from '../src/kernels/sample-penalty.ts';
import { argmaxScratchBytes, recordArgmax } from '../src/kernels/sample-argmax.ts';
import { argmaxToken, drawToken, keptTokens, penalizedLogits, sampleToken } from '../src/reference/sample.ts';
import { SAMPLE_CASES } from './helpers/cases.ts';
import { getTestGpu } from './helpers/gpu.ts';
import { KernelHarness } from './helpers/harness.ts';
import { randomF32, rng } from './helpers/rand.ts';

const gpu = await getTestGpu();

type Dist = 'flat' | 'peaked' | 'tied' | 'masked';
/**
 * Logits of one row: flat (|l| < 2), peaked (|l| < 12: a few tokens hold most mass), tied (8 levels) or
 * masked (flat with every third token at -inf, as a grammar mask would leave it).
 */
function logitsOf(dist: Dist, vocab: number, seed: number): Float32Array {
  if (dist === 'masked') return logitsOf('flat', vocab, seed).map((v, i) => (i % 3 === 1 ? -Infinity : v));
  if (dist === 'tied') {
    const r = rng(seed);
    return Float32Array.from({ length: vocab }, () => [-3.1, -1.2, 0.4, 1.7, 2.2, 3.05, 4.4, 5.3][Math.floor(r() * 8)]);
  }
  return randomF32(vocab, seed, dist === 'flat' ? 2 : 12);
}

const request = (r: Partial<SampleRequest>, random = 0): SampleRequest => ({
  temperature: 1, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1, penalizedTokens: [], random, ...r,
});

describe.skipIf(!gpu)('sample', () => {
  let h: KernelHarness;
  beforeAll(() => void (h = new KernelHarness(gpu!.device)));
  afterAll(() => h.destroy());

  /** `draws` GPU draws of one logits row with the given request and random numbers: one row copy each. */
  async function gpuDraws(row: Float32Array, req: SampleRequest, randoms: number[]): Promise<Uint32Array> {
    const vocab = row.length;
    const all = new Float32Array(vocab * randoms.length);
    randoms.forEach((_, r) => all.set(row, r * vocab));
    const logits = h.input(all, 'logits');
    const token = h.output(randoms.length, 'token');
    const scratch = h.output(sampleScratchBytes(vocab) / 4, 'scratch');
    const entries = penaltyEntries(req);
    // The row is copied per draw, so one table serves every draw's penalty.
    const ids = entries.length ? h.input(packPenalties(entries)) : undefined;
    randoms.forEach((random, r) => recordSample(h.rec, { logits, token, scratch, penalized: ids }, { ...req, random }, { vocab, row: r }));
    return h.readU32(token);
  }

  it.each([
    [1, 1],
    [37, 7],
    [5, 1000],
    [3, 65537],
    [4, SAMPLE_CASES.vocabs.v3],
  ])('argmax over %i rows of %i logits matches exactly, ties to the lowest id', async (rows, vocab) => {
    // Integer-valued logits in a small range: every row has many ties for its maximum.
    const r = rng(vocab + rows);
    const logits = Float32Array.from({ length: rows * vocab }, () => Math.floor(r() * 40) - 20);
    const token = h.output(rows, 'token');
    const partial = h.output(argmaxScratchBytes(rows, vocab) / 4, 'partial');
    recordArgmax(h.rec, { logits: h.input(logits), partial, token }, { vocab, rows });
    const got = Array.from(await h.readU32(token));
    const want = Array.from({ length: rows }, (_, i) => argmaxToken(logits.subarray(i * vocab, (i + 1) * vocab)));
    expect(got).toEqual(want); // exact: integers
  });

  const dists: Dist[] = ['flat', 'peaked', 'tied', 'masked'];
  const vocabs = [SAMPLE_CASES.vocabs.tiny, SAMPLE_CASES.vocabs.odd];
  const cases = Object.entries(SAMPLE_CASES.requests).flatMap(([name, req]) =>
    vocabs.flatMap((vocab) => dists.map((dist) => ({ name, req: req as Partial<SampleRequest>, vocab, dist }))),
  );

  it.each(cases)('$name, $dist logits, vocab $vocab: the same token as the reference for 64 random numbers', async ({ req, vocab, dist }) => {
    await compareDraws(logitsOf(dist, vocab, vocab * 3 + dist.length), request(req), 64);
  });

  it.each(['deepseek', 'all'] as const)('%s at the V3 vocabulary (129280): 12 random numbers', async (name) => {
    await compareDraws(logitsOf('peaked', SAMPLE_CASES.vocabs.v3, 77), request(SAMPLE_CASES.requests[name]), 12);
  });

  it('refuses a sample-filter workgroup below the 16 threads that sum its histogram columns', () => {
    const hk = new KernelHarness(gpu!.device, h.pipelines, withKnobs(h.rec.profile, { 'sample-filter': { WG_SIZE: 8 } }));
    const logits = hk.input(new Float32Array(10), 'logits');
    const run = () => recordSample(hk.rec, { logits, token: hk.output(1, 'token'), scratch: hk.output(sampleScratchBytes(10) / 4, 'scratch') }, request({}, 0.5), { vocab: 10, row: 0 });
    expect(run).toThrow(/sample-filter.*WG_SIZE 8 must be at least 16/);
    hk.destroy();
  });

  it('repetition penalty, then greedy and sampled picks', async () => {
    const vocab = 1000;
    const row = logitsOf('peaked', vocab, 5);
    // Penalise the current top tokens (positive logits shrink) and a few negative ones (they grow more negative).
    const order = [...row.keys()].sort((a, b) => row[b] - row[a]);
    const penalized = [...order.slice(0, 5), ...order.slice(-3)];
    for (const temperature of [0, 0.7]) {
      const req = request({ temperature, repetitionPenalty: 1.8, penalizedTokens: penalized, topK: 20 });
      const randoms = Array.from({ length: 16 }, (_, i) => (i + 0.5) / 16);
      const got = await gpuDraws(row, req, randoms);
      const want = randoms.map((random) => sampleToken(row, { ...req, random }));
      expect(Array.from(got)).toEqual(want);
    }
    expect(argmaxToken(penalizedLogits(row, request({ repetitionPenalty: 1.8, penalizedTokens: penalized })))).not.toBe(order[0]);
  });

  it('frequency and presence penalties, alone and on top of the repetition penalty, match the reference bit for bit', async () => {
    const vocab = 1000;
    const row = logitsOf('peaked', vocab, 9);
    const order = [...row.keys()].sort((a, b) => row[b] - row[a]);
    // Generated-token amounts: the top tokens pushed down, a low one pulled up (negative penalties).
    const additivePenalties = new Map([
      [order[0], 0.7 * 3 + 0.4],
      [order[1], 0.7 + 0.4],
      [order[2], 1.3],
      [order[900], -2.5],
    ]);
    const penalizedTokens = [order[1], order[2], order[3], order[999]];
    for (const repetitionPenalty of [1, 1.6]) {
      for (const temperature of [0, 0.8]) {
        const req = request({ temperature, repetitionPenalty, penalizedTokens, additivePenalties, topK: 30 });
        const randoms = Array.from({ length: 16 }, (_, i) => (i + 0.5) / 16);
        const got = await gpuDraws(row, req, randoms);
        expect(Array.from(got)).toEqual(randoms.map((random) => sampleToken(row, { ...req, random })));
      }
    }
    // The penalized row itself, read back: every entry equal to the reference's f32.
    const req = request({ repetitionPenalty: 1.6, penalizedTokens, additivePenalties });
    const logits = h.input(row.slice(), 'logits');
    const scratch = h.output(sampleScratchBytes(vocab) / 4, 'scratch');
    recordSample(h.rec, { logits, token: h.output(1, 'token'), scratch, penalized: h.input(packPenalties(penaltyEntries(req))) }, { ...req, temperature: 0 }, { vocab, row: 0 });
    expect(Array.from(await h.run(logits))).toEqual(Array.from(penalizedLogits(row, req)));
  });

  /**
   * Exact token equality, except where the reference itself sits on a knife edge: the draw changes when
   * random moves by 1e-6 (the cumulative mass is f32 on the GPU, float64 here), or the top-p set changes
   * when top_p moves by 1e-6. Such draws must still match one of the perturbed references; they are rare.
   */
  async function compareDraws(row: Float32Array, req: SampleRequest, draws: number[] | number): Promise<void> {
    const r = rng(row.length + 17);
    const randoms = typeof draws === 'number' ? Array.from({ length: draws }, () => r()) : draws;
    const got = await gpuDraws(row, req, randoms);
    const kept = keptTokens(row, req);
    const topPVariants = req.topP < 1 ? [0.999999, 1.000001].map((f) => keptTokens(row, { ...req, topP: Math.min(1, req.topP * f) })) : [];
    let ambiguous = 0;
    randoms.forEach((u, i) => {
      const want = drawToken(kept, u);
      if (got[i] === want) return;
      const near = [u * (1 - 1e-6), Math.min(u * (1 + 1e-6), 0.9999999)].map((v) => drawToken(kept, v));
      near.push(...topPVariants.map((k) => drawToken(k, u)));
      expect(near, `draw ${i} (random ${u}): got ${got[i]}, reference ${want}`).toContain(got[i]);
      ambiguous++;
    });
    expect(ambiguous, 'knife-edge draws').toBeLessThanOrEqual(Math.ceil(randoms.length / 32));
  }
});
