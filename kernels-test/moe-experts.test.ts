// The MoE experts (moe-gate-up, moe-down, moe-combine via recordMoeExperts) against the CPU reference
// moeForward / mlpForward, routed on the GPU by moe-route, with random experts in each format the kernels
// read: FP8 e4m3 with 128x128 block scales (V3), q4 4-bit codes with group scales (docs/q4.md), BF16 and F32
// (V2 / V2-Lite checkpoints).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dequantFp8Block } from '../src/checkpoint/fp8-blocks.ts';
import { dequantQ4, quantizeQ4 } from '../src/checkpoint/q4-quantize.ts';
import type { ModelConfig } from '../src/config/model-config.ts';
import { moeGroupBytes, recordMoeExperts, type ExpertFormat, type ExpertPart, type ExpertWeights } from '../src/kernels/moe-experts.ts';
import { moeDown } from '../src/kernels/moe-down.ts';
import { moeGateUp } from '../src/kernels/moe-gate-up.ts';
import { recordMoeRoute } from '../src/kernels/moe-route.ts';
import { linear } from '../src/reference/matmul.ts';
import { mlpForward, moeForward, routeRows } from '../src/reference/moe-experts.ts';
import type { RoutingConfig } from '../src/reference/moe-route.ts';
import type { Matrix, MlpWeights, MoeWeights } from '../src/reference/weights.ts';
import { describeDiff, relL2 } from './helpers/compare.ts';
import { MOE_EXPERT_CASES, MOE_EXPERT_FLOAT_CASES, type MoeExpertCase } from './helpers/cases.ts';
import { getTestGpu } from './helpers/gpu.ts';
import { KernelHarness } from './helpers/harness.ts';
import { randomF32, rng } from './helpers/rand.ts';

const gpu = await getTestGpu();
const BLOCK = 128;
const FORMATS: ExpertFormat[] = ['fp8', 'q4', 'bf16', 'f32'];
// The q4 group: 64 leaves a partial group on the 96-wide rows of the odd cases, 32 is the engine's.
const Q4_GROUP_OF = (name: string) => (name.startsWith('odd') ? 64 : 32);

/** One [out, in] projection: the bytes the kernels read, FP8 block scales, and the values they stand for. */
interface Projection {
  bytes: Uint8Array;
  scale?: Float32Array;
  matrix: Matrix;
}

/** Random FP8 codes (never the NaN codes 0x7F / 0xFF) and block scales of an [out, in] projection. */
function randomFp8(out: number, inDim: number, seed: number): Projection {
  const r = rng(seed);
  const codes = Uint8Array.from({ length: out * inDim }, () => {
    const c = Math.floor(r() * 256);
    return (c & 0x7f) === 0x7f ? c - 1 : c;
  });
  // |W| <= 448 * scale ~ 0.1 / sqrt(in/128): outputs of order 1 whatever the width.
  const scale = Float32Array.from({ length: Math.ceil(out / BLOCK) * Math.ceil(inDim / BLOCK) }, () => ((0.5 + r()) * 0.2) / 448 / Math.sqrt(inDim / 128));
  return { bytes: codes, scale, matrix: { data: dequantFp8Block(codes, out, inDim, scale, BLOCK, BLOCK), rows: out, cols: inDim } };
}

/** Random weights of an [out, in] projection in `format`; BF16 rounds f32 values to nearest even. */
function randomProjection(format: ExpertFormat, out: number, inDim: number, seed: number, group = 32): Projection {
  if (format === 'fp8') return randomFp8(out, inDim, seed);
  // Uniform in ±sqrt(3 / in): unit variance per output, as for FP8.
  const data = randomF32(out * inDim, seed, Math.sqrt(3 / inDim));
  if (format === 'q4') {
    const q = quantizeQ4(data, out, inDim, group);
    return { bytes: new Uint8Array(q.codes.buffer), scale: q.scale, matrix: { data: dequantQ4(q, out, inDim, group), rows: out, cols: inDim } };
  }
  if (format === 'bf16') {
    const bits = new Uint32Array(data.buffer);
    const halves = new Uint16Array(bits.length);
    for (let i = 0; i < bits.length; i++) {
      halves[i] = (bits[i] + 0x7fff + ((bits[i] >>> 16) & 1)) >>> 16;
      bits[i] = halves[i] << 16; // data now holds the BF16 values exactly
    }
    return { bytes: new Uint8Array(halves.buffer), matrix: { data, rows: out, cols: inDim } };
  }
  return { bytes: new Uint8Array(data.buffer), matrix: { data, rows: out, cols: inDim } };
}

/** Upload experts [0, n) of one projection split into parts of `perPart` experts. */
function uploadParts(h: KernelHarness, projections: Projection[], perPart: number): ExpertPart[] {
  const parts: ExpertPart[] = [];
  for (let first = 0; first < projections.length; first += perPart) {
    const chunk = projections.slice(first, first + perPart);
    const bytes = new Uint8Array(chunk.reduce((n, p) => n + p.bytes.length, 0));
    chunk.reduce((o, p) => (bytes.set(p.bytes, o), o + p.bytes.length), 0);
    const part: ExpertPart = { firstExpert: first, count: chunk.length, weight: h.input(bytes, 'expert weights') };
    if (chunk[0].scale) {
      const scale = new Float32Array(chunk.reduce((n, p) => n + p.scale!.length, 0));
      chunk.reduce((o, p) => (scale.set(p.scale!, o), o + p.scale!.length), 0);
      part.scale = h.input(scale, 'scales');
    }
    parts.push(part);
  }
  return parts;
}

function randomMlp(format: ExpertFormat, hidden: number, inter: number, seed: number, group = 32) {
  const gate = randomProjection(format, inter, hidden, seed, group);
  const up = randomProjection(format, inter, hidden, seed + 1, group);
  const down = randomProjection(format, hidden, inter, seed + 2, group);
  return { gate, up, down, ref: { gate: gate.matrix, up: up.matrix, down: down.matrix } as MlpWeights };
}

function uploadMlps(h: KernelHarness, format: ExpertFormat, mlps: ReturnType<typeof randomMlp>[], gateUpPerPart: number, downPerPart: number, group = 32): ExpertWeights {
  return {
    format,
    ...(format === 'q4' && { group }),
    gate: uploadParts(h, mlps.map((m) => m.gate), gateUpPerPart),
    up: uploadParts(h, mlps.map((m) => m.up), gateUpPerPart),
    down: uploadParts(h, mlps.map((m) => m.down), downPerPart),
  };
}

// Every case with FP8 experts; the float cases again with BF16 and F32 experts, and the small ones with q4.
const RUNS: [ExpertFormat, string, MoeExpertCase][] = [
  ...Object.entries(MOE_EXPERT_CASES).map(([name, c]): [ExpertFormat, string, MoeExpertCase] => ['fp8', name, c]),
  ...(['bf16', 'f32'] as const).flatMap((f) => Object.entries(MOE_EXPERT_FLOAT_CASES).map(([name, c]): [ExpertFormat, string, MoeExpertCase] => [f, name, c])),
  // q4 on the small cases (both paths, partial groups); its real widths run in the model test.
  ...Object.entries(MOE_EXPERT_FLOAT_CASES).filter(([name]) => !name.startsWith('v2-lite')).map(([name, c]): [ExpertFormat, string, MoeExpertCase] => ['q4', name, c]),
];

describe.skipIf(!gpu)('moe-experts', () => {
  let h: KernelHarness;
  beforeAll(() => void (h = new KernelHarness(gpu!.device)));
  afterAll(() => h.destroy());

  // f32 products and sums over up to 7168 terms per output (two chained projections) against float64:
  // rounding ~1e-6 at most; a wrong expert, slot, scale block or weight moves the output by O(1).
  const TOL = 1e-5;

  it.each(RUNS)('%s experts: %s', async (format, name, c) => {
    const { hidden, inter, experts: n, topK, shared, rows } = c;
    const group = Q4_GROUP_OF(name);
    const routing: RoutingConfig = { ...c.routing, nRoutedExperts: n, numExpertsPerTok: topK };
    const cfg = { ...routing, hiddenSize: hidden } as ModelConfig;
    const mlps = Array.from({ length: n }, (_, e) => randomMlp(format, hidden, inter, 100 + 3 * e, group));
    const sharedMlp = shared ? randomMlp(format, hidden, shared * inter, 7, group) : null;
    const router: Matrix = { data: randomF32(n * hidden, 11, 1 / Math.sqrt(hidden)), rows: n, cols: hidden };
    const bias = routing.topkMethod === 'noaux_tc' ? randomF32(n, 12, 0.05) : undefined;
    const x = randomF32(rows * hidden, 13);
    const w: MoeWeights = { router, correctionBias: bias, experts: mlps.map((m) => m.ref), shared: sharedMlp?.ref };

    // Router logits on the CPU (the matmul kernel is tested elsewhere), routed on the GPU.
    const logits = Float32Array.from(linear(x, rows, hidden, router.data, n));
    const expertIdx = h.output(rows * topK, 'experts');
    const weights = h.output(rows * topK, 'weights');
    recordMoeRoute(h.rec, routing, { logits: h.input(logits), bias: bias && h.input(bias), experts: expertIdx, weights }, rows);

    const routedW = uploadMlps(h, format, mlps, c.gateUpPerPart, c.downPerPart, group);
    const sharedW = sharedMlp ? uploadMlps(h, format, [sharedMlp], 1, 1, group) : null;
    const xBuf = h.input(x);
    // The decode path always; the grouped (prefill) path too where recordMoeExperts would take it
    // (>= 2 pairs per expert): both must match the reference.
    const paths = rows * topK >= 2 * n ? ['decode', 'grouped'] : ['decode'];
    const outs = paths.map((path) => {
      const out = h.output(rows * hidden, `out (${path})`);
      const buffers = {
        x: xBuf,
        experts: expertIdx,
        weights,
        out,
        h: h.output(rows * topK * inter, 'h'),
        y: h.output(rows * topK * hidden, 'y'),
        hShared: shared ? h.output(rows * shared * inter, 'h shared') : undefined,
        group: path === 'grouped' ? h.output(moeGroupBytes(rows, topK, n) / 4, 'group') : undefined,
      };
      recordMoeExperts(h.rec, routedW, sharedW, buffers, { rows, hidden, inter, topK, sharedInter: shared * inter });
      return out;
    });
    const gotExperts = await h.readU32(expertIdx);
    // The routes must agree before the outputs can (exact integers).
    expect(Array.from(gotExperts)).toEqual(routeRows(x, rows, w, cfg).flatMap((r) => r.experts));
    const want = moeForward(Float64Array.from(x), rows, w, cfg);
    for (const [i, out] of outs.entries()) {
      const got = await h.run(out);
      expect(relL2(got, want), `${paths[i]} path: ${describeDiff(got, want)}`).toBeLessThanOrEqual(TOL);
    }
  });

  it.each(FORMATS)('%s: shared-expert mode alone equals mlpForward (odd shape: partial 128-blocks, q4 partial 64-groups, both ways)', async (format) => {
    const [hidden, inter, rows] = [192, 200, 5];
    const m = randomMlp(format, hidden, inter, 21, 64);
    const o = { BLOCK: format === 'q4' ? 64 : 128 };
    const xs = randomF32(rows * hidden, 22);
    const x = h.input(xs);
    const hs = h.output(rows * inter, 'h');
    const out = h.output(rows * hidden, 'out');
    const [g, u, d] = [uploadParts(h, [m.gate], 1)[0], uploadParts(h, [m.up], 1)[0], uploadParts(h, [m.down], 1)[0]];
    const dense = { first_expert: 0, part_experts: 1, routed: 0 }; // every row uses expert 0; `experts` is not read
    // BF16/F32 have no scales: the weights are bound again in the scale slots (not read).
    const gateUp = { gate_w: g.weight, gate_s: g.scale ?? g.weight, up_w: u.weight, up_s: u.scale ?? u.weight };
    moeGateUp[format].record(h.rec, { x, experts: x, ...gateUp, h: hs }, { rows, slots: 1, hidden, inter, ...dense }, o);
    moeDown[format].record(h.rec, { h: hs, experts: x, down_w: d.weight, down_s: d.scale ?? d.weight, y: out }, { pairs: rows, hidden, inter, ...dense }, o);
    const got = await h.run(out);
    const want = mlpForward(xs, rows, m.ref);
    expect(relL2(got, want), describeDiff(got, want)).toBeLessThanOrEqual(TOL);
  });
});
