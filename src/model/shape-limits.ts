// The widths the GPU kernels cannot take, checked against config.json before anything is uploaded. A valid
// config (the CPU reference runs any) may still ask for a shape a kernel does not implement; without this
// check some of those fail on the first step with a kernel's ShaderError, and one (kv_lora_rank past the
// workgroup limit) silently computed garbage. Each limit names the kernel that sets it.
import type { ModelConfig } from '../config/model-config.ts';
import { ConfigError } from '../errors.ts';
import { MOE_ROUTE_MAX_GROUPS, MOE_ROUTE_MAX_TOP_K } from '../kernels/moe-route.ts';
import { knob, type LaunchProfile } from '../gpu/launch-profile.ts';
import { mlaDecodeWorkgroup } from '../gpu/launch-shapes.ts';

export interface ShapeLimitInputs {
  /** The checkpoint dtype of the embedding tables ('BF16' packs two per u32). */
  embedDtype: string;
  limits: Pick<GPUSupportedLimits, 'maxComputeWorkgroupSizeX' | 'maxComputeInvocationsPerWorkgroup'>;
  /** The launch profile the model will run with (mla-decode's workgroup comes from it). */
  profile: LaunchProfile;
}

/** Throws a ConfigError naming the field when the engine's kernels cannot run `c`. */
export function checkShapeLimits(c: ModelConfig, inputs: ShapeLimitInputs, file = 'config.json'): void {
  const refuse = (field: string, detail: string): never => {
    throw new ConfigError(field, `${detail} (a limit of this engine's GPU kernels)`, file);
  };
  // mla-absorb-q/-v, mla-decode, mla-merge and kv-append read latent rows as vec4.
  if (c.kvLoraRank % 4) refuse('kv_lora_rank', `got ${c.kvLoraRank}; must be a multiple of 4`);
  if (c.qkRopeHeadDim % 4) refuse('qk_rope_head_dim', `got ${c.qkRopeHeadDim}; must be a multiple of 4`);
  // mla-decode: one workgroup per query block, each thread owning 8 latent columns.
  const multiple = knob(inputs.profile, 'mla-decode', 'WG_MULTIPLE');
  const wg = mlaDecodeWorkgroup(c.kvLoraRank, multiple);
  const maxWg = Math.min(inputs.limits.maxComputeWorkgroupSizeX, inputs.limits.maxComputeInvocationsPerWorkgroup);
  if (wg > maxWg) refuse('kv_lora_rank', `got ${c.kvLoraRank}; the attention needs ${wg} threads per workgroup, the adapter allows ${maxWg} (kv_lora_rank <= ${8 * Math.floor(maxWg / multiple) * multiple})`);
  // matmul: an FP8 scale block covers whole 8-row thread tiles and 4-wide k quads.
  const block = c.quantization?.weightBlockSize;
  if (block && (block[0] % 8 || block[1] % 4)) refuse('quantization_config.weight_block_size', `got [${block}]; must be multiples of [8, 4]`);
  if (inputs.embedDtype === 'BF16' && c.hiddenSize % 2) refuse('hidden_size', `got ${c.hiddenSize}; BF16 embedding rows must have an even width`);
  if (c.nRoutedExperts === 0) return;
  // moe-gate-up/-down (and their grouped forms) read expert rows in quads of 4 weights.
  if (c.hiddenSize % 4) refuse('hidden_size', `got ${c.hiddenSize}; a model with routed experts needs a multiple of 4`);
  if (c.moeIntermediateSize % 4) refuse('moe_intermediate_size', `got ${c.moeIntermediateSize}; must be a multiple of 4`);
  // moe-route keeps the top-k and the group scores in fixed-size arrays.
  if (c.numExpertsPerTok > MOE_ROUTE_MAX_TOP_K) refuse('num_experts_per_tok', `got ${c.numExpertsPerTok}; at most ${MOE_ROUTE_MAX_TOP_K}`);
  const grouped = c.topkMethod !== 'greedy' && c.nGroup > 1;
  if (grouped && c.nGroup > MOE_ROUTE_MAX_GROUPS) refuse('n_group', `got ${c.nGroup}; at most ${MOE_ROUTE_MAX_GROUPS}`);
}
