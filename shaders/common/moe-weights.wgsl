// Expert weight reads for the MoE expert kernels (include-only; moe-gate-up, moe-down and their -grouped
// forms). One projection's experts are [part_experts, out, in] row-major, read as quads (4 consecutive
// weights of a row), so every index the kernels compute is the same in all four formats:
//   FP8  (flag FP8):  Quad = u32, 4 e4m3 codes (little endian: .x is the lowest byte); block scales
//                     [part_experts, ceil(out/128), ceil(in/128)] f32, W = e4m3(q) * s (docs/conventions.md "FP8")
//   Q4   (flag Q4):   words of 8 4-bit codes, quad i = half i % 2 of word i / 2 (common/q4.wgsl); group scales
//                     [part_experts, out, ceil(in/BLOCK)] f32, BLOCK = the group, W = (nibble - 8) * s (docs/q4.md)
//   BF16 (flag BF16): Quad = vec2<u32>, two BF16 per u32, low half first; no scales
//   F32  (flag F32):  Quad = vec4<u32>, f32 bits; no scales
// A weight is read as load_quad(w[quad_word(i)], i) for quad index i. The kernels sum unscaled products over
// a block of BLOCK columns and scale the sum once per row and block (FP8, Q4) or not at all; scale_row() is
// where a row's scales start (rows share a scale row in blocks of SCALE_ROWS).
// Needs in % 4 == 0 (whole quads per row), Q4 in % 8 == 0 (whole words; checked in src/kernels/moe-weights.ts).

#if FP8
#include "common/fp8.wgsl"
alias Quad = u32;
override BLOCK: u32 = 128u;   // 128 (the wrapper checks it)
const SCALE_ROWS = 128u;

fn load_quad(q: Quad, i: u32) -> vec4<f32> {
  return e4m3x4_to_vec4(q);
}
#endif
#if Q4
#include "common/q4.wgsl"
alias Quad = u32;
override BLOCK: u32 = 32u;    // the group
const SCALE_ROWS = 1u;

fn load_quad(q: Quad, i: u32) -> vec4<f32> {
  return q4_quad(q, i % 2u);
}
#endif
#if BF16
alias Quad = vec2<u32>;
override BLOCK: u32 = 128u;
const SCALE_ROWS = 128u;

// BF16 is the top half of an f32: the low half moves up by a multiply (shifts are scalarized in
// SwiftShader), the high half is masked in place.
fn load_quad(q: Quad, i: u32) -> vec4<f32> {
  let lo = bitcast<vec2<f32>>(q * 65536u);
  let hi = bitcast<vec2<f32>>(q & vec2<u32>(0xFFFF0000u));
  return vec4<f32>(lo.x, hi.x, lo.y, hi.y);
}
#endif
#if F32
alias Quad = vec4<u32>;
override BLOCK: u32 = 128u;
const SCALE_ROWS = 128u;

fn load_quad(q: Quad, i: u32) -> vec4<f32> {
  return bitcast<vec4<f32>>(q);
}
#endif

// The array element that holds quad i.
fn quad_word(i: u32) -> u32 {
#if Q4
  return i / 2u;
#else
  return i;
#endif
}

// Blocks (scale columns) per row of `in` weights.
fn scale_cols(in_dim: u32) -> u32 {
  return (in_dim + BLOCK - 1u) / BLOCK;
}

// First scale of output row `row` of expert e (relative to the part) of an [out, in] projection.
fn scale_row(e: u32, row: u32, out: u32, cols: u32) -> u32 {
  return (e * ((out + SCALE_ROWS - 1u) / SCALE_ROWS) + row / SCALE_ROWS) * cols;
}

fn scale_row4(e: u32, rows: vec4<u32>, out: u32, cols: u32) -> vec4<u32> {
  return (vec4<u32>(e * ((out + SCALE_ROWS - 1u) / SCALE_ROWS)) + rows / SCALE_ROWS) * cols;
}
