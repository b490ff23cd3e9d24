// Shapes shared by the kernel tests and the benchmarks: tiny, odd (not multiples of 4, the workgroup size
// or the 128 block) and the real layer shapes of DeepSeek-V3 and DeepSeek-V2-Lite (../shared/REFERENCE.md
// "Real model shapes"). Tests trim the real shapes where SwiftShader would take too long.

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
