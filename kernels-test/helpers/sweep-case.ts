// One shape-sweep case from a seed: a DeepSeek config.json drawn from awkward widths (odd, or not multiples
// of 4/64/128 where the kernels allow it), a weight format, and how to run it (prefill chunk, forced attention
// split plan, prompt lengths). The same seed always gives the same case, so a failure reproduces from its name.
import { rng } from './rand.ts';
import type { TestProfileName } from './profile.ts';

export type Routing = 'noaux_tc' | 'group_limited_greedy' | 'greedy' | 'dense';

export interface SweepCase {
  seed: number;
  /** config.json as a Hugging Face checkpoint ships it. */
  config: Record<string, unknown>;
  /** Linear weights as FP8 e4m3 blocks of `block` (quantization_config.weight_block_size) or BF16. */
  weights: { format: 'fp8'; block: [number, number] } | { format: 'bf16' };
  run: SweepRun;
}

export interface SweepRun {
  /** Positions per forward call (act.rows): prompts cross its boundaries. */
  prefillChunk: number;
  /** ModelLoadOptions.attentionWorkgroups: a many-core adapter's split plan on this 2-core machine. */
  attentionWorkgroups: number;
  /**
   * The launch profile (kernels-test/helpers/profile.ts): every third seed the GPU defaults, the others the CPU's
   * (GPU launch shapes ran 1.1-2.6x slower on SwiftShader, seeds 3-6: wide workgroups pay for every 4-lane subgroup).
   */
  profile: TestProfileName;
  contextLength: number;
  /** Tokens whose logits (and MTP logits) are compared at every position. */
  prompt: number[];
  /** The first greedy token is checked for every prompt[0..n), n = 1..firstTokens. */
  firstTokens: number;
  /** Greedy generation: plain, speculative (1 and 3 drafts) and the reference, from prompt[0..genPrompt). */
  genPrompt: number;
  genTokens: number;
}

// Widths the kernels take in any value (matmul in/out, head counts, vocab) and those they need in multiples
// of 4 (latent and rope columns read as vec4, expert rows read as quads). Small and large alike.
const VOCABS = [97, 127, 251, 333, 389, 509, 513, 600];
const HIDDEN_X4 = [20, 36, 44, 52, 68, 100, 132, 148, 196];
const HIDDEN_EVEN = [38, 74, 102, 166];
const INTERMEDIATE = [19, 37, 77, 96, 130, 203, 250];
const MOE_INTERMEDIATE = [12, 20, 28, 44, 68, 100];
const HEADS = [1, 2, 3, 5, 7];
const NOPE = [3, 8, 13, 16, 24, 32];
const ROPE = [4, 8, 12, 20, 32, 64];
const KV_LORA = [4, 12, 28, 36, 60, 100, 132, 260, 512];
const V_HEAD = [5, 8, 16, 17, 32];
const Q_LORA = [7, 24, 50, 97, 130];
const EXPERTS = [3, 5, 6, 7, 9, 10, 12, 15, 24];
// Non-128 blocks (the experts kernels only take 128x128, so these go with dense models): several blocks and
// partial ones at these widths. Multiples of [8, 4] (the matmul's FP8 tiling).
const SMALL_BLOCKS: [number, number][] = [[32, 32], [16, 64], [64, 16], [8, 4], [24, 20]];
const CHUNKS = [4, 5, 7, 8, 11, 16];
const WORKGROUPS = [2, 64, 128, 256];

export function drawSweepCase(seed: number): SweepCase {
  const r = rng(seed * 7919 + 17);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const chance = (p: number) => r() < p;

  const routing: Routing = pick(['noaux_tc', 'noaux_tc', 'group_limited_greedy', 'greedy', 'greedy', 'dense']);
  const fp8 = chance(0.6);
  const block: [number, number] = fp8 && routing === 'dense' && chance(0.7) ? pick(SMALL_BLOCKS) : [128, 128];
  const moe = routing !== 'dense';
  const layers = int(1, 3);
  const vocab = pick(VOCABS);
  const hidden = moe ? pick(HIDDEN_X4) : pick([...HIDDEN_X4, ...HIDDEN_EVEN]);
  const heads = pick(HEADS);
  const experts = moe ? pick(EXPERTS) : 0;
  const topK = moe ? int(1, Math.min(6, experts)) : 0;
  const groups = routing === 'noaux_tc' || routing === 'group_limited_greedy' ? pick(divisors(experts).filter((g) => routing !== 'noaux_tc' || experts / g >= 2)) : 1;
  // Enough groups kept to hold top-k experts (a config the engine accepts).
  const topkGroup = groups === 1 ? 1 : int(Math.ceil(topK / (experts / groups)), groups);
  const normTopk = routing === 'noaux_tc' ? chance(0.8) : chance(0.3);
  const yarn = chance(0.6);
  const config: Record<string, unknown> = {
    architectures: [routing === 'noaux_tc' ? 'DeepseekV3ForCausalLM' : 'DeepseekV2ForCausalLM'],
    model_type: routing === 'noaux_tc' ? 'deepseek_v3' : 'deepseek_v2',
    vocab_size: vocab,
    hidden_size: hidden,
    intermediate_size: pick(INTERMEDIATE),
    moe_intermediate_size: moe ? pick(MOE_INTERMEDIATE) : 0,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    num_key_value_heads: heads,
    q_lora_rank: chance(0.5) ? pick(Q_LORA) : null,
    kv_lora_rank: pick(KV_LORA),
    qk_nope_head_dim: pick(NOPE),
    qk_rope_head_dim: pick(ROPE),
    v_head_dim: pick(V_HEAD),
    n_routed_experts: moe ? experts : null,
    n_shared_experts: moe ? int(0, 2) : null,
    num_experts_per_tok: moe ? topK : null,
    n_group: groups,
    topk_group: topkGroup,
    topk_method: routing === 'dense' ? 'greedy' : routing,
    scoring_func: routing === 'noaux_tc' ? 'sigmoid' : 'softmax',
    norm_topk_prob: normTopk,
    routed_scaling_factor: pick([1, 2.5, 16]),
    first_k_dense_replace: int(0, 1),
    moe_layer_freq: chance(0.2) ? 2 : 1,
    num_nextn_predict_layers: chance(0.65) ? 1 : 0,
    max_position_embeddings: 2048,
    rope_theta: pick([10000, 50000]),
    rope_scaling: yarn
      ? { type: 'yarn', factor: pick([2, 4, 40]), original_max_position_embeddings: pick([16, 64, 128]), beta_fast: 32, beta_slow: 1, mscale: pick([0.707, 1]), mscale_all_dim: pick([0, 0.707, 1]) }
      : null,
    rms_norm_eps: 1e-6,
    hidden_act: 'silu',
    bos_token_id: 0,
    eos_token_id: 1,
    tie_word_embeddings: false,
    ...(fp8 ? { quantization_config: { activation_scheme: 'dynamic', fmt: 'e4m3', quant_method: 'fp8', weight_block_size: block } } : {}),
  };

  const prefillChunk = pick(CHUNKS);
  // One case in five runs past 512 cached rows: 3+ attention splits of at least 256 rows (mlaSplitPlan).
  const promptLength = chance(0.2) ? int(513, 580) : int(20, 200);
  const firstTokens = Math.min(promptLength, prefillChunk + int(2, 4));
  const genPrompt = pick([1, 2, prefillChunk, prefillChunk + 1, 2 * prefillChunk + 3]);
  const genTokens = 16;
  const attentionWorkgroups = pick(WORKGROUPS);
  // Last: the token draws are as many as the prompt is long, so everything drawn after them would move with it.
  const prompt = Array.from({ length: promptLength }, () => Math.floor(r() * vocab));
  return {
    seed,
    config,
    weights: fp8 ? { format: 'fp8', block } : { format: 'bf16' },
    run: {
      prefillChunk,
      attentionWorkgroups,
      profile: seed % 3 === 0 ? 'gpu' : 'cpu', // not drawn: the draws above stay as they were
      contextLength: Math.max(promptLength, genPrompt + genTokens + 4),
      prompt,
      firstTokens,
      genPrompt,
      genTokens,
    },
  };
}

/** The case in one line: enough to recognise the shape; the seed reproduces it exactly. */
export function describeSweepCase(s: SweepCase): string {
  const c = s.config;
  const w = s.weights.format === 'fp8' ? `fp8 ${s.weights.block.join('x')}` : 'bf16';
  const moe = c.n_routed_experts
    ? `${c.topk_method} E${c.n_routed_experts}/k${c.num_experts_per_tok}/g${c.n_group}:${c.topk_group} shared${c.n_shared_experts} mI${c.moe_intermediate_size}`
    : 'dense';
  const q = c.q_lora_rank === null ? 'q' : `qLora${c.q_lora_rank}`;
  return (
    `seed ${s.seed}: ${w} L${c.num_hidden_layers} V${c.vocab_size} H${c.hidden_size} I${c.intermediate_size} ${moe} ` +
    `heads${c.num_attention_heads} ${q} kv${c.kv_lora_rank} nope${c.qk_nope_head_dim} rope${c.qk_rope_head_dim} v${c.v_head_dim}` +
    `${c.rope_scaling ? ' yarn' : ''}${c.num_nextn_predict_layers ? ' mtp' : ''} | T${s.run.prompt.length} chunk${s.run.prefillChunk} wg${s.run.attentionWorkgroups} ${s.run.profile}`
  );
}

function divisors(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1).filter((d) => n % d === 0);
}
