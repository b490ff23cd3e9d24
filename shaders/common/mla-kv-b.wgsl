// kv_b_proj weight reads for the MLA absorption kernels (include-only; mla-absorb-q, mla-absorb-v).
// kv_b_proj.weight: [H*(nope+v_head), kv_lora] viewed as [H, nope+v_head, kv_lora]: rows :nope of head h are
// W_UK[h], rows nope: are W_UV[h] (docs/conventions.md "MLA, written out"). Read packed, never expanded:
//   FP8  (flag FP8):  w: array<u32>, 4 e4m3 codes per word, [rows, kv_lora/4]; w_scale: [ceil(rows/BLOCK_ROWS),
//                     ceil(kv_lora/BLOCK_COLS)] f32; W = e4m3 * scale
//   BF16 (flag BF16): w: array<u32>, 2 values per word (low half first), [rows, kv_lora/2]
//   F32  (flag F32):  w: array<vec4<f32>>, [rows, kv_lora/4]
// Kernels sum raw values over a run of weights that share one scale and scale the sum once (one multiply per
// run instead of per weight). The including kernel declares w (and w_scale for FP8) and the overrides BLOCK_ROWS,
// BLOCK_COLS, and includes common/fp8.wgsl. Needs kv_lora % 4 == 0 and BLOCK_COLS % 4 == 0 (4 consecutive
// columns share a scale).

// Columns 4*c4 .. 4*c4+3 of weight row `row`, unscaled (FP8: the decoded codes). kv4 = kv_lora / 4.
fn kv_b_raw4(row: u32, c4: u32, kv4: u32) -> vec4<f32> {
#if FP8
  return e4m3x4_to_vec4(w[row * kv4 + c4]);
#endif
#if BF16
  let at = (row * kv4 + c4) * 2u;
  let lo = w[at];
  let hi = w[at + 1u];
  return vec4<f32>(bitcast<f32>(lo << 16u), bitcast<f32>(lo & 0xFFFF0000u), bitcast<f32>(hi << 16u), bitcast<f32>(hi & 0xFFFF0000u));
#endif
#if F32
  return w[row * kv4 + c4];
#endif
}

// The scale of weight (row, column 4*c4): the FP8 block scale, 1 otherwise. scale_cols = ceil(kv_lora / BLOCK_COLS).
fn kv_b_scale(row: u32, c4: u32, scale_cols: u32) -> f32 {
#if FP8
  return w_scale[(row / BLOCK_ROWS) * scale_cols + (c4 * 4u) / BLOCK_COLS];
#else
  return 1.0;
#endif
}
