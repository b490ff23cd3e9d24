// Test support (imported by *.test.ts and tools/plan-real-models.ts; not packaged).
// The released configs' fields that matter for counting (docs/conventions.md "Real model shapes").
export const V3 = {
  architectures: ['DeepseekV3ForCausalLM'], vocab_size: 129280, hidden_size: 7168, num_hidden_layers: 61,
  intermediate_size: 18432, moe_intermediate_size: 2048, num_attention_heads: 128, q_lora_rank: 1536,
  kv_lora_rank: 512, qk_nope_head_dim: 128, qk_rope_head_dim: 64, v_head_dim: 128, max_position_embeddings: 163840,
  n_routed_experts: 256, n_shared_experts: 1, num_experts_per_tok: 8, n_group: 8, topk_group: 4,
  topk_method: 'noaux_tc', first_k_dense_replace: 3, moe_layer_freq: 1, num_nextn_predict_layers: 1,
};
export const V2_LITE = {
  architectures: ['DeepseekV2ForCausalLM'], vocab_size: 102400, hidden_size: 2048, num_hidden_layers: 27,
  intermediate_size: 10944, moe_intermediate_size: 1408, num_attention_heads: 16, q_lora_rank: null,
  kv_lora_rank: 512, qk_nope_head_dim: 128, qk_rope_head_dim: 64, v_head_dim: 128, max_position_embeddings: 163840,
  n_routed_experts: 64, n_shared_experts: 2, num_experts_per_tok: 6, topk_method: 'greedy', first_k_dense_replace: 1,
};
export const V2 = {
  architectures: ['DeepseekV2ForCausalLM'], vocab_size: 102400, hidden_size: 5120, num_hidden_layers: 60,
  intermediate_size: 12288, moe_intermediate_size: 1536, num_attention_heads: 128, q_lora_rank: 1536,
  kv_lora_rank: 512, qk_nope_head_dim: 128, qk_rope_head_dim: 64, v_head_dim: 128, max_position_embeddings: 163840,
  n_routed_experts: 160, n_shared_experts: 2, num_experts_per_tok: 6, n_group: 8, topk_group: 3,
  topk_method: 'group_limited_greedy', routed_scaling_factor: 16.0, first_k_dense_replace: 1,
};
