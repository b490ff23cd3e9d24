// moe-route against the CPU reference (routeToken): exact expert indices in the same order, weights by relL2.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordMoeRoute } from '../src/kernels/moe-route.ts';
import { routeToken, type RoutingConfig } from '../src/reference/moe-route.ts';
import { describeDiff, relL2 } from './helpers/compare.ts';
import { MOE_ROUTE_CASES } from './helpers/cases.ts';
import { getTestGpu } from './helpers/gpu.ts';
import { KernelHarness } from './helpers/harness.ts';
import { randomF32, rng } from './helpers/rand.ts';

const gpu = await getTestGpu();

// Logits drawn from a few levels, so that many experts (and, for noaux_tc, whole groups) tie exactly.
// The levels are irregular on purpose: symmetric ones (±x) make sigmoid sums of different pairs equal
// in exact arithmetic but not after rounding.
function tiedLogits(n: number, seed: number): Float32Array {
  const levels = [-1.7, -0.35, 0.2, 0.9, 2.3];
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => levels[Math.floor(r() * levels.length)]);
}

async function route(h: KernelHarness, cfg: RoutingConfig, logits: Float32Array, bias: Float32Array | undefined, rows: number) {
  const k = cfg.numExpertsPerTok;
  const experts = h.output(rows * k, 'experts'); // NaN bits (0x7fc00000): never a valid expert index
  const weights = h.output(rows * k, 'weights');
  recordMoeRoute(h.rec, cfg, { logits: h.input(logits), bias: bias && h.input(bias), experts, weights }, rows);
  const gotWeights = await h.run(weights);
  const gotExperts = await h.readU32(experts);
  return { gotExperts, gotWeights };
}

describe.skipIf(!gpu)('moe-route', () => {
  let h: KernelHarness;
  beforeAll(() => void (h = new KernelHarness(gpu!.device)));
  afterAll(() => h.destroy());

  const cases = Object.entries(MOE_ROUTE_CASES).flatMap(([name, cfg]) => [
    { name, cfg: cfg as RoutingConfig, inputs: 'random' },
    { name, cfg: cfg as RoutingConfig, inputs: 'tied' },
  ]);

  it.each(cases)('$name with $inputs logits', async ({ cfg, inputs }) => {
    const n = cfg.nRoutedExperts;
    const k = cfg.numExpertsPerTok;
    const rows = 300; // many tokens: the decode path has 1..8, prefill hundreds
    const seed = n * 31 + k + (inputs === 'tied' ? 7 : 0);
    const logits = inputs === 'tied' ? tiedLogits(rows * n, seed) : randomF32(rows * n, seed, 4);
    // Biases of the size V3's have (|b| < ~0.1 against scores in (0, 1)). Tied inputs get one bias for
    // every expert: a bias that varies per expert would make ties that are exact in real arithmetic only
    // (s(a) + b1 + s(c) + b2 = s(c) + b1 + s(a) + b2 for two groups), which rounding then breaks either
    // way; the reference itself could not say which group wins.
    const bias =
      cfg.topkMethod === 'noaux_tc'
        ? inputs === 'tied'
          ? new Float32Array(n).fill(0.0625)
          : randomF32(n, seed + 1, 0.1)
        : undefined;
    const { gotExperts, gotWeights } = await route(h, cfg, logits, bias, rows);

    const wantExperts: number[] = [];
    const wantWeights: number[] = [];
    for (let r = 0; r < rows; r++) {
      const ref = routeToken(logits.subarray(r * n, (r + 1) * n), cfg, bias);
      wantExperts.push(...ref.experts);
      wantWeights.push(...ref.weights);
    }
    // Exact: the same experts in the same order, ties to the lower index (integers, no tolerance).
    const firstBad = wantExperts.findIndex((e, i) => gotExperts[i] !== e);
    const row = Math.floor(firstBad / k);
    expect(
      firstBad,
      firstBad < 0 ? '' : `row ${row}: got [${gotExperts.subarray(row * k, row * k + k)}], want [${wantExperts.slice(row * k, row * k + k)}]`,
    ).toBe(-1);
    // Weights: a handful of f32 ops per weight (exp, a sum over <= 256 terms, a division, the scale)
    // against float64: rounding ~1e-7; a wrong normalisation or scale would be off by O(1).
    expect(relL2(gotWeights, wantWeights), describeDiff(gotWeights, wantWeights)).toBeLessThanOrEqual(1e-6);
  });

  it('decode shapes: one token at V3 and V2-Lite', async () => {
    for (const cfg of [MOE_ROUTE_CASES.v3, MOE_ROUTE_CASES.v2Lite] as RoutingConfig[]) {
      const n = cfg.nRoutedExperts;
      const logits = randomF32(n, 99, 3);
      const bias = cfg.topkMethod === 'noaux_tc' ? randomF32(n, 98, 0.1) : undefined;
      const { gotExperts, gotWeights } = await route(h, cfg, logits, bias, 1);
      const ref = routeToken(logits, cfg, bias);
      expect(Array.from(gotExperts.subarray(0, cfg.numExpertsPerTok))).toEqual(ref.experts);
      expect(relL2(gotWeights.subarray(0, cfg.numExpertsPerTok), ref.weights)).toBeLessThanOrEqual(1e-6);
    }
  });

  it('noaux_tc without a bias routes by the scores alone', async () => {
    const cfg = MOE_ROUTE_CASES.v3 as RoutingConfig;
    const rows = 20;
    const logits = randomF32(rows * cfg.nRoutedExperts, 5, 4);
    const { gotExperts } = await route(h, cfg, logits, undefined, rows);
    const want = Array.from({ length: rows }, (_, r) =>
      routeToken(logits.subarray(r * cfg.nRoutedExperts, (r + 1) * cfg.nRoutedExperts), cfg).experts,
    ).flat();
    expect(Array.from(gotExperts)).toEqual(want);
  });
});
