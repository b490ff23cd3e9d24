// kv_b_proj as the MLA absorption kernels read it (shaders/common/mla-kv-b.wgsl): packed in its checkpoint dtype,
// never expanded. FP8 e4m3 with block scales (V3), BF16 (V2, V2-Lite) or F32. Shared by mla-absorb-q/-v.
import type { ModelConfig } from '../config/model-config.ts';
import { expectBytes, expectThat } from '../gpu/kernel.ts';
import type { Bindable } from '../gpu/recorder.ts';

export type KvBDtype = 'F8_E4M3' | 'BF16' | 'F32';
export const KV_B_DTYPES = ['F8_E4M3', 'BF16', 'F32'] as const satisfies readonly KvBDtype[];

/** The MLA dimensions the kernels take (a ModelConfig has them all). */
export type MlaDims = Pick<ModelConfig, 'numAttentionHeads' | 'kvLoraRank' | 'qkNopeHeadDim' | 'qkRopeHeadDim' | 'vHeadDim'>;

/** The shader's #if flag for each dtype. */
export const KV_B_FLAGS: Record<KvBDtype, Record<string, boolean>> = {
  F8_E4M3: { FP8: true },
  BF16: { BF16: true },
  F32: { F32: true },
};

/** One kernel per kv_b_proj dtype, so model code picks `kernel[dtype]` from the checkpoint's tensor info. */
export function perKvBDtype<K>(make: (dtype: KvBDtype) => K): Record<KvBDtype, K> {
  return { F8_E4M3: make('F8_E4M3'), BF16: make('BF16'), F32: make('F32') };
}

/** Bytes of kv_b_proj.weight [rows, cols] in `dtype` (the packed size the kernels read). */
export function kvBWeightBytes(dtype: KvBDtype, rows: number, cols: number): number {
  return rows * cols * (dtype === 'F8_E4M3' ? 1 : dtype === 'BF16' ? 2 : 4);
}

/** Checks w (and, for FP8, w_scale) against kv_b_proj's shape [heads * (nope + v), kv_lora]. */
export function checkKvB(
  shader: string,
  dtype: KvBDtype,
  b: { w: Bindable; w_scale: Bindable },
  p: { heads: number; kv_lora: number; nope: number; v_head: number; scale_cols: number },
  o: { BLOCK_ROWS: number; BLOCK_COLS: number },
): void {
  const rows = p.heads * (p.nope + p.v_head);
  expectBytes(shader, 'w', b.w, kvBWeightBytes(dtype, rows, p.kv_lora));
  if (dtype !== 'F8_E4M3') return;
  expectThat(shader, o.BLOCK_COLS % 4 === 0, `BLOCK_COLS ${o.BLOCK_COLS} must be a multiple of 4`);
  expectThat(shader, p.scale_cols === Math.ceil(p.kv_lora / o.BLOCK_COLS), `scale_cols ${p.scale_cols} != ceil(${p.kv_lora} / ${o.BLOCK_COLS})`);
  expectBytes(shader, 'w_scale', b.w_scale, Math.ceil(rows / o.BLOCK_ROWS) * p.scale_cols * 4);
}
