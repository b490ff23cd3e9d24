// 4-bit weight decode (include-only; docs/q4.md). A u32 holds 8 codes of one row along k, nibble n (bits
// 4n..4n+3) = the weight at k = 8w + n, storing q + 8 for q in -8..7; W = q * scale of the group.
// reference: src/checkpoint/q4-quantize.ts (dequantQ4)
//
// Shaped for SwiftShader like common/fp8.wgsl: no shifts (they are scalarized there). Nibble n is masked in
// place and converted: f32(word & (0xF << 4n)) = nibble * 2^(4n) exactly (at most 4 significant bits, so the
// u32 -> f32 conversion is exact even for the top nibble), and a constant multiply by 2^(-4n) brings it down.
// `half` picks nibbles 0..3 (0) or 4..7 (1): 4 consecutive k, one quad.

const Q4_MASKS = vec4<u32>(0xFu, 0xF0u, 0xF00u, 0xF000u);
const Q4_DOWN = vec4<f32>(1.0, 1.0 / 16.0, 1.0 / 256.0, 1.0 / 4096.0);

// The 4 codes of quad `half` of `word` as q (nibble - 8), unscaled.
fn q4_quad(word: u32, half: u32) -> vec4<f32> {
  let hi = half == 1u;
  let m = select(Q4_MASKS, Q4_MASKS * 65536u, hi);
  let d = select(Q4_DOWN, Q4_DOWN * (1.0 / 65536.0), hi);
  return vec4<f32>(vec4<u32>(word) & m) * d - vec4<f32>(8.0);
}

// A matmul tile of 4 outputs (u32 i = output i's word) x 4 k (quad `half`) as mat4x4 whose column j is the 4
// outputs at k = 4 * half + j, each output scaled by s[i]: (nibble - 8) * s = nibble * s - 8 s, one
// multiply-add per 4 weights after the conversion.
fn q4_tile(q: vec4<u32>, half: u32, s: vec4<f32>) -> mat4x4<f32> {
  let hi = half == 1u;
  let m = select(0xFu, 0xF0000u, hi);
  let sd = s * select(1.0, 1.0 / 65536.0, hi);
  let off = s * -8.0;
  return mat4x4<f32>(vec4<f32>(q & vec4<u32>(m)) * sd + off,
                     vec4<f32>(q & vec4<u32>(m * 16u)) * (sd * (1.0 / 16.0)) + off,
                     vec4<f32>(q & vec4<u32>(m * 256u)) * (sd * (1.0 / 256.0)) + off,
                     vec4<f32>(q & vec4<u32>(m * 4096u)) * (sd * (1.0 / 4096.0)) + off);
}
