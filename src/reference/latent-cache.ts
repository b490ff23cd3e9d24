// The CPU reference's per-layer KV cache. It stores what the GPU stores — the compressed latent c_kv
// (kv_lora_rank) and the rotated k_pe (qk_rope_head_dim) per token — and memoizes each row's naive
// expansion through kv_b_proj (k_nope and v for every head), which is what the paper's naive MLA attends over.
export class LayerLatentCache {
  readonly cKv: Float64Array[] = [];
  readonly kPe: Float64Array[] = [];
  /** Per row: [heads * (qk_nope + v_head)], kv_b_proj · c_kv. */
  readonly expanded: Float64Array[] = [];

  get length(): number {
    return this.cKv.length;
  }

  /** Drop rows from `length` on (speculative rollback). */
  truncate(length: number): void {
    this.cKv.length = this.kPe.length = this.expanded.length = Math.min(length, this.length);
  }
}
