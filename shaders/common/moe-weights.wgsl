// Expert weight reads for the MoE expert kernels (include-only; moe-gate-up, moe-down and their -grouped
// forms). One projection's experts are [part_experts, out, in] row-major. The kernels walk a row in packs:
// one element of the weight array (Pack) holding PACK consecutive weights, against the matching Acts (PACK
// activations, the activation array's element), so every index the kernels compute is the same in all
// four formats:
//   FP8  (flag FP8):  Pack = u32, 4 e4m3 codes (little endian: .x is the lowest byte); block scales
//                     [part_experts, ceil(out/128), ceil(in/128)] f32, W = e4m3(q) * s (docs/conventions.md "FP8")
//   Q4   (flag Q4):   Pack = u32, a whole word of 8 codes (common/q4.wgsl); group scales
//                     [part_experts, out, ceil(in/BLOCK)] f32, BLOCK = the group, W = (nibble - 8) * s (docs/q4.md)
//   BF16 (flag BF16): Pack = vec2<u32>, two BF16 per u32, low half first; no scales
//   F32  (flag F32):  Pack = vec4<u32>, f32 bits; no scales
// A pack is decoded once by unpack() (grouped kernels reuse it for TILE pairs) and multiplied by acts with
// pack_mul(), which returns 4 lanes of partial sums. The kernels sum these unscaled over a block of BLOCK
// columns and scale the sum once per row and block by s * UNIT (FP8, Q4) or not at all; scale_row() is
// where a row's scales start (rows share a scale row in blocks of SCALE_ROWS).
// Needs in % PACK == 0 (whole packs per row; checked in src/kernels/moe-weights.ts) and BLOCK % PACK == 0.

#if FP8
#include "common/fp8.wgsl"
alias Pack = u32;
alias Weights = vec4<f32>;
override BLOCK: u32 = 128u;   // 128 (the wrapper checks it)
const SCALE_ROWS = 128u;

fn unpack(q: Pack) -> Weights {
  return e4m3x4_to_vec4(q);
}
#endif
#if Q4
#include "common/q4.wgsl"
alias Pack = u32;
alias Weights = mat2x4<f32>;
override BLOCK: u32 = 32u;    // the group
const SCALE_ROWS = 1u;

fn unpack(q: Pack) -> Weights {
  return q4_word(q);
}
#endif
#if BF16
alias Pack = vec2<u32>;
alias Weights = vec4<f32>;
override BLOCK: u32 = 128u;
const SCALE_ROWS = 128u;

// BF16 is the top half of an f32: the low half moves up by a multiply (shifts are scalarized in
// SwiftShader), the high half is masked in place.
fn unpack(q: Pack) -> Weights {
  let lo = bitcast<vec2<f32>>(q * 65536u);
  let hi = bitcast<vec2<f32>>(q & vec2<u32>(0xFFFF0000u));
  return vec4<f32>(lo.x, hi.x, lo.y, hi.y);
}
#endif
#if F32
alias Pack = vec4<u32>;
alias Weights = vec4<f32>;
override BLOCK: u32 = 128u;
const SCALE_ROWS = 128u;

fn unpack(q: Pack) -> Weights {
  return bitcast<vec4<f32>>(q);
}
#endif

#if Q4
alias Acts = mat2x4<f32>;        // 8 activations: column 0 = k 0..3 of the word, column 1 = k 4..7
const PACK = 8u;
const UNIT = Q4_UNIT;            // unpack() gives q * 2^28 (common/q4.wgsl)

// Lane j: w[0][j] * a[0][j] + w[1][j] * a[1][j].
fn pack_mul(w: Weights, a: Acts) -> vec4<f32> {
  return w[0] * a[0] + w[1] * a[1];
}
#else
alias Acts = vec4<f32>;
const PACK = 4u;
const UNIT = 1.0;

fn pack_mul(w: Weights, a: Acts) -> vec4<f32> {
  return w * a;
}
#endif

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
