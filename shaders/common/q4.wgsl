// 4-bit weight decode (include-only; docs/q4.md). A u32 holds 8 codes of one row along k, nibble n (bits
// 4n..4n+3) = the weight at k = 8w + n, storing q + 8 for q in -8..7; W = q * scale of the group.
// reference: src/checkpoint/q4-quantize.ts (dequantQ4)
//
// Shaped for SwiftShader like common/fp8.wgsl: no shifts (they are scalarized there); left shifts are
// integer multiplies.

// Whole-word decode (the MoE expert kernels): all 8 codes of a word at once, no branch and no select.
// word ^ 0x88888888 turns each nibble q + 8 into q's 4-bit two's complement; a multiply by 2^(28 - 4n)
// (a left shift) brings nibble n to bits 28..31, where the mask keeps it and the i32 -> f32 conversion
// (one instruction on x86 SIMD; u32 -> f32 is emulated) reads it as q * 2^28, exactly. The 2^28 stays in the decoded
// weights and is taken out with the group scale (s * Q4_UNIT, once per row and group).
const Q4_UNIT = 1.0 / 268435456.0;  // 2^-28
const Q4_LO = vec4<u32>(1u << 28u, 1u << 24u, 1u << 20u, 1u << 16u);  // nibbles 0..3
const Q4_HI = vec4<u32>(1u << 12u, 1u << 8u, 1u << 4u, 1u);           // nibbles 4..7
const Q4_TOP = vec4<u32>(0xF0000000u);

// Column 0: q * 2^28 of k = 8w + 0..3; column 1: of k = 8w + 4..7.
fn q4_word(word: u32) -> mat2x4<f32> {
  let t = vec4<u32>(word ^ 0x88888888u);
  return mat2x4<f32>(q4_top(t * Q4_LO), q4_top(t * Q4_HI));
}

// The matmul's tile: 4 outputs (u32 i = output i's word) x 4 k (`half` 0: nibbles 0..3, 1: nibbles 4..7)
// as mat4x4 whose column j is the 4 outputs at k = 4 * half + j, each output's q scaled by s[i]. Decoded as
// q4_word does (nibble 4 half + j to the top: a multiply by 2^(28 - 16 half - 4j)), then one multiply by
// s * 2^-28 per 4 weights. Called with a constant `half` (the matmul walks whole words), the select folds.
fn q4_tile(q: vec4<u32>, half: u32, s: vec4<f32>) -> mat4x4<f32> {
  let t = q ^ vec4<u32>(0x88888888u);
  let m = select(1u << 16u, 1u, half == 1u);
  let su = s * Q4_UNIT;
  return mat4x4<f32>(q4_top(t * (m * 4096u)) * su, q4_top(t * (m * 256u)) * su,
                     q4_top(t * (m * 16u)) * su, q4_top(t * m) * su);
}

// The 4-bit two's complement value at bits 28..31 of each lane, as q * 2^28.
fn q4_top(v: vec4<u32>) -> vec4<f32> {
  return vec4<f32>(bitcast<vec4<i32>>(v & Q4_TOP));
}
