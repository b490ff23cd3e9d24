// Shapes shared by the kernel tests and the benchmarks: tiny, odd (not multiples of 4, the workgroup size
// or the 128 block) and the real layer shapes of DeepSeek-V3 and DeepSeek-V2-Lite (docs/conventions.md
// "Real model shapes"). Tests trim the real shapes where SwiftShader would take too long.

import type { RoutingConfig } from '../../src/reference/moe-route.ts';

export interface ModelShapes {
  model: 'v3' | 'v2-lite';
  hidden: number;
  qLoraRank: number | null;
  kvLoraRank: number;
  heads: number;
  qkNope: number;
  qkRope: number;
  vHead: number;
  experts: number;
  topK: number;
  moeIntermediate: number;
  sharedExperts: number;
  intermediate: number;
  vocab: number;
}

export const V3: ModelShapes = {
  model: 'v3',
  hidden: 7168,
  qLoraRank: 1536,
  kvLoraRank: 512,
  heads: 128,
  qkNope: 128,
  qkRope: 64,
  vHead: 128,
  experts: 256,
  topK: 8,
  moeIntermediate: 2048,
  sharedExperts: 1,
  intermediate: 18432,
  vocab: 129280,
};

export const V2_LITE: ModelShapes = {
  model: 'v2-lite',
  hidden: 2048,
  qLoraRank: null,
  kvLoraRank: 512,
  heads: 16,
  qkNope: 128,
  qkRope: 64,
  vHead: 128,
  experts: 64,
  topK: 6,
  moeIntermediate: 1408,
  sharedExperts: 2,
  intermediate: 10944,
  vocab: 102400,
};

/** Matrix shapes [out, in] for y = x·Wᵀ, by case kind. */
export const MATMUL_SHAPES = {
  tiny: [[8, 16], [4, 4]],
  odd: [[7, 13], [129, 257], [200, 130], [45, 65]],
  real: [
    [V3.qLoraRank!, V3.hidden], // q_a_proj
    [V3.kvLoraRank + V3.qkRope, V3.hidden], // kv_a_proj_with_mqa (576: a partial 128-block)
    [V3.hidden, V3.moeIntermediate], // expert down_proj
    [V3.moeIntermediate, V3.hidden], // expert gate/up
    [V2_LITE.moeIntermediate, V2_LITE.hidden], // V2-Lite expert gate/up (1408 = 11 blocks)
  ],
} as const;

/** Context lengths for attention benchmarks. */
export const CONTEXT_LENGTHS = [256, 1024, 4096] as const;

/** Routing configs (RoutingConfig fields) for moe-route tests and benches: name, config, has a bias. */
export const MOE_ROUTE_CASES = {
  // tiny-v3's routing: noaux_tc over 4 groups of 2, top-2 groups, top-3.
  tiny: { nRoutedExperts: 8, numExpertsPerTok: 3, nGroup: 4, topkGroup: 2, topkMethod: 'noaux_tc', scoringFunc: 'sigmoid', normTopkProb: true, routedScalingFactor: 2.5, scaleAfterNormalise: true },
  // Odd sizes: 3 groups of 7 (group_limited_greedy); 15 experts, top-5 greedy sigmoid; 5 groups of 3 noaux_tc.
  oddGlg: { nRoutedExperts: 21, numExpertsPerTok: 5, nGroup: 3, topkGroup: 2, topkMethod: 'group_limited_greedy', scoringFunc: 'softmax', normTopkProb: false, routedScalingFactor: 1.5, scaleAfterNormalise: false },
  oddGreedy: { nRoutedExperts: 15, numExpertsPerTok: 5, nGroup: 1, topkGroup: 1, topkMethod: 'greedy', scoringFunc: 'sigmoid', normTopkProb: true, routedScalingFactor: 3, scaleAfterNormalise: false },
  oddNoaux: { nRoutedExperts: 15, numExpertsPerTok: 4, nGroup: 5, topkGroup: 3, topkMethod: 'noaux_tc', scoringFunc: 'softmax', normTopkProb: true, routedScalingFactor: 2, scaleAfterNormalise: true },
  v3: { nRoutedExperts: V3.experts, numExpertsPerTok: V3.topK, nGroup: 8, topkGroup: 4, topkMethod: 'noaux_tc', scoringFunc: 'sigmoid', normTopkProb: true, routedScalingFactor: 2.5, scaleAfterNormalise: true },
  v2Lite: { nRoutedExperts: V2_LITE.experts, numExpertsPerTok: V2_LITE.topK, nGroup: 1, topkGroup: 1, topkMethod: 'greedy', scoringFunc: 'softmax', normTopkProb: false, routedScalingFactor: 1, scaleAfterNormalise: false },
  v2: { nRoutedExperts: 160, numExpertsPerTok: 6, nGroup: 8, topkGroup: 3, topkMethod: 'group_limited_greedy', scoringFunc: 'softmax', normTopkProb: false, routedScalingFactor: 16, scaleAfterNormalise: false },
} as const satisfies Record<string, RoutingConfig>;

/** MLA attention shapes (mla-*, kv-append tests and tools/bench/kernels/mla.bench.ts). */
export interface MlaShape {
  heads: number;
  kvLora: number;
  nope: number;
  rope: number;
  vHead: number;
}

export const MLA_SHAPES = {
  tiny: { heads: 2, kvLora: 16, nope: 8, rope: 4, vHead: 8 },
  // kv_lora 72 and nope 13 / v 11: not multiples of 8, 128 or the workgroup; rope 8 (kv_lora and rope % 4 == 0 are
  // preconditions of the kernels, as in every DeepSeek model).
  odd: { heads: 3, kvLora: 72, nope: 13, rope: 8, vHead: 11 },
  v3: { heads: V3.heads, kvLora: V3.kvLoraRank, nope: V3.qkNope, rope: V3.qkRope, vHead: V3.vHead },
  v2Lite: { heads: V2_LITE.heads, kvLora: V2_LITE.kvLoraRank, nope: V2_LITE.qkNope, rope: V2_LITE.qkRope, vHead: V2_LITE.vHead },
} as const satisfies Record<string, MlaShape>;

/** Odd sequence lengths for the MLA attention tests, and query-row counts (decode, 2-row verify, prefill chunk). */
export const MLA_SEQ_LENGTHS = [1, 7, 129] as const;
export const MLA_QUERY_ROWS = [1, 2, 5] as const;

/** matmul (shaders/matmul.wgsl) tests and benches: row counts per path and the benchmark shapes [out, in]. */
export const MATMUL_CASES = {
  decodeRows: [1, 2, 3, 8], // rows <= 8: every row in one thread, weights read once
  prefillRows: [5, 64, 77], // 5 with the prefill blocking forced: a partial block of 8
  // Decode benches: a square 4096 layer and the V3 expert gate/up shape.
  benchDecode: [
    [4096, 4096],
    [V3.moeIntermediate, V3.hidden],
  ],
  benchPeak: 1024, // the f32 FLOP ceiling: M = N = K
  benchPrefill: { rows: 256, shape: [V3.moeIntermediate, V3.hidden] },
} as const;

/** Sampling cases: vocabulary sizes (tiny, odd, real) and request settings for sample tests and benches. */
export const SAMPLE_CASES = {
  vocabs: { tiny: 10, odd: 4099, v2Lite: V2_LITE.vocab, v3: V3.vocab },
  requests: {
    plain: { temperature: 1, topK: 0, topP: 1, minP: 0 },
    deepseek: { temperature: 0.6, topK: 0, topP: 0.95, minP: 0 }, // DeepSeek's recommended settings
    topK: { temperature: 0.8, topK: 40, topP: 1, minP: 0 },
    all: { temperature: 1.3, topK: 50, topP: 0.9, minP: 0.05 },
    topK1: { temperature: 1, topK: 1, topP: 1, minP: 0 },
    narrowP: { temperature: 1, topK: 0, topP: 0.3, minP: 0 },
    minP: { temperature: 1, topK: 0, topP: 1, minP: 0.2 }, // binds: flat logits keep p >= 0.2 p_max only
  },
} as const;

/** An MoE layer for the experts tests: shapes, how the experts are split over buffers, and routing. */
export interface MoeExpertCase {
  hidden: number;
  inter: number;
  experts: number;
  topK: number;
  /** n_shared_experts (0: none). */
  shared: number;
  rows: number;
  /** Experts per buffer for gate/up and for down (parts of whole experts; the last may be smaller). */
  gateUpPerPart: number;
  downPerPart: number;
  routing: Omit<RoutingConfig, 'nRoutedExperts' | 'numExpertsPerTok'>;
}

const NOAUX = { nGroup: 4, topkGroup: 2, topkMethod: 'noaux_tc', scoringFunc: 'sigmoid', normTopkProb: true, routedScalingFactor: 2.5, scaleAfterNormalise: true } as const;
const GREEDY = { nGroup: 1, topkGroup: 1, topkMethod: 'greedy', scoringFunc: 'softmax', normTopkProb: false, routedScalingFactor: 1, scaleAfterNormalise: false } as const;

export const MOE_EXPERT_CASES: Record<string, MoeExpertCase> = {
  tiny: { hidden: 64, inter: 32, experts: 8, topK: 2, shared: 1, rows: 1, gateUpPerPart: 8, downPerPart: 8, routing: NOAUX },
  'tiny, 8 rows': { hidden: 64, inter: 32, experts: 8, topK: 3, shared: 1, rows: 8, gateUpPerPart: 8, downPerPart: 8, routing: NOAUX },
  // Partial 128-blocks on both sides (96 = 0.75 block, 192 = 1.5 blocks); parts of 4 and of 3 experts.
  odd: { hidden: 192, inter: 96, experts: 10, topK: 3, shared: 2, rows: 7, gateUpPerPart: 4, downPerPart: 3, routing: { ...NOAUX, nGroup: 5, topkGroup: 3 } },
  // Prefill-sized: many tokens share each expert.
  'odd, 61 rows': { hidden: 192, inter: 96, experts: 10, topK: 3, shared: 2, rows: 61, gateUpPerPart: 4, downPerPart: 3, routing: { ...GREEDY, nGroup: 1 } },
  // Real row lengths, trimmed to 3 experts (one per part for down) so the CPU reference stays quick.
  'v3 trimmed': { hidden: V3.hidden, inter: V3.moeIntermediate, experts: 3, topK: 2, shared: 0, rows: 1, gateUpPerPart: 2, downPerPart: 1, routing: { ...NOAUX, nGroup: 1, topkGroup: 1 } },
  'v2-lite trimmed': { hidden: V2_LITE.hidden, inter: V2_LITE.moeIntermediate, experts: 6, topK: 4, shared: V2_LITE.sharedExperts, rows: 2, gateUpPerPart: 6, downPerPart: 4, routing: GREEDY },
  // A prefill chunk at V2-Lite's widths: the grouped path with full and partial tiles.
  'v2-lite trimmed, 13 rows': { hidden: V2_LITE.hidden, inter: V2_LITE.moeIntermediate, experts: 6, topK: 4, shared: V2_LITE.sharedExperts, rows: 13, gateUpPerPart: 4, downPerPart: 6, routing: GREEDY },
};

/**
 * The MoE expert cases run again with BF16 and F32 experts (V2 / V2-Lite checkpoints): each takes both the
 * decode and the grouped path (>= 2 pairs per expert), with partial 128-blocks, parts, and real V2-Lite
 * widths. The V3 width and the 2-row V2-Lite case stay FP8-only (test time).
 */
export const MOE_EXPERT_FLOAT_CASES: Record<string, MoeExpertCase> = {
  'tiny, 8 rows': MOE_EXPERT_CASES['tiny, 8 rows'],
  odd: MOE_EXPERT_CASES.odd,
  'odd, 61 rows': MOE_EXPERT_CASES['odd, 61 rows'],
  'v2-lite trimmed, 13 rows': MOE_EXPERT_CASES['v2-lite trimmed, 13 rows'],
};
