// Expert weight reads for the MoE expert kernels (include-only; moe-gate-up, moe-down and their -grouped
// forms). One projection's experts are [part_experts, out, in] row-major, read as quads (4 consecutive
// weights of a row), so every index the kernels compute is the same in all three formats:
//   FP8  (flag FP8):  Quad = u32, 4 e4m3 codes (little endian: .x is the lowest byte); block scales
//                     [part_experts, ceil(out/128), ceil(in/128)] f32, W = e4m3(q) * s (docs/conventions.md "FP8")
//   BF16 (flag BF16): Quad = vec2<u32>, two BF16 per u32, low half first; no scales
//   F32  (flag F32):  Quad = vec4<u32>, f32 bits; no scales
// The kernels sum unscaled products over a 128-column block and scale the sum once (FP8) or not at all.
// Needs in % 4 == 0 (whole quads per row; checked in src/kernels/moe-weights.ts).

#if FP8
#include "common/fp8.wgsl"
alias Quad = u32;

fn quad_to_vec4(q: Quad) -> vec4<f32> {
  return e4m3x4_to_vec4(q);
}
#endif
#if BF16
alias Quad = vec2<u32>;

// BF16 is the top half of an f32: the low half moves up by a multiply (shifts are scalarized in
// SwiftShader), the high half is masked in place.
fn quad_to_vec4(q: Quad) -> vec4<f32> {
  let lo = bitcast<vec2<f32>>(q * 65536u);
  let hi = bitcast<vec2<f32>>(q & vec2<u32>(0xFFFF0000u));
  return vec4<f32>(lo.x, hi.x, lo.y, hi.y);
}
#endif
#if F32
alias Quad = vec4<u32>;

fn quad_to_vec4(q: Quad) -> vec4<f32> {
  return bitcast<vec4<f32>>(q);
}
#endif
