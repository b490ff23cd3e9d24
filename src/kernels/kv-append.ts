// New latent rows into a layer's cache (kv_a_layernorm on c_kv, RoPE on k_pe): shaders/kv-append.wgsl.
// Reference: src/reference/mla.ts mlaLatents.
import { defineKernel, expectBytes, expectThat } from '../gpu/kernel.ts';
import { workgroupKnob } from '../gpu/launch-shapes.ts';

const SHADER = 'kv-append';

/**
 * `kvAppend.record(rec, { kv_a, norm_w, inv_freq, row_pos, row_slot, cache }, { rows, kv_lora, rope, cache_rows, eps, cos_sin_scale })`.
 * kv_a: [rows, kv_lora + rope] f32, kv_a_proj_with_mqa's output before the norm · norm_w: kv_a_layernorm.weight
 * [kv_lora] f32 · inv_freq: ModelConfig.ropeInvFreq as f32 [rope / 2] · row_pos, row_slot: [rows] u32, each row's
 * position and the pool row it is written to (src/kernels/row-map.ts) · cache: the layer's page pool
 * [cache_rows, kv_lora + rope] f32. cos_sin_scale: ModelConfig.ropeCosSinScale; eps: ModelConfig.rmsNormEps.
 * Positions below 2^24 and slots below cache_rows are the row map's to guarantee (rowMapData checks them).
 */
export const kvAppend = defineKernel({
  shader: SHADER,
  bindings: { kv_a: 'read', norm_w: 'read', inv_freq: 'read', row_pos: 'read', row_slot: 'read', cache: 'read_write' },
  params: { rows: 'u32', kv_lora: 'u32', rope: 'u32', cache_rows: 'u32', eps: 'f32', cos_sin_scale: 'f32' },
  overrides: {},
  launch: workgroupKnob,
  check: (b, p, o) => {
    const latent = p.kv_lora + p.rope;
    expectThat(SHADER, (o.WG_SIZE & (o.WG_SIZE - 1)) === 0, `WG_SIZE ${o.WG_SIZE} must be a power of two`);
    expectThat(SHADER, p.rope % 2 === 0, `rope ${p.rope} must be even (rotary pairs)`);
    expectBytes(SHADER, 'kv_a', b.kv_a, p.rows * latent * 4);
    expectBytes(SHADER, 'norm_w', b.norm_w, p.kv_lora * 4);
    expectBytes(SHADER, 'inv_freq', b.inv_freq, (p.rope / 2) * 4);
    expectBytes(SHADER, 'row_pos', b.row_pos, p.rows * 4);
    expectBytes(SHADER, 'row_slot', b.row_slot, p.rows * 4);
    expectBytes(SHADER, 'cache', b.cache, p.cache_rows * latent * 4);
  },
  grid: (p) => [p.rows],
});
