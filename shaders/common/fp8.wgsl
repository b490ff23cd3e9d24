// FP8 e4m3fn decode (include-only). 1 sign, 4 exponent bits (bias 7), 3 mantissa bits; exponent 0 is
// subnormal (m/8 * 2^-6); 0x7F / 0xFF are NaN and never occur in checkpoints; max 448 (0x7E).
// docs/conventions.md "FP8" · reference: src/checkpoint/decode.ts (e4m3 table)
//
// Exact for all 254 finite codes (incl. -0), and no intermediate is an f32 subnormal (SwiftShader flushes
// those). Shaped for SwiftShader's JIT, where this decode is the cost of an FP8 matmul:
// - WGSL shifts become per-lane variable shifts there, which Subzero scalarizes: the first version of this
//   file (vec4 shifts + selects) took 2x the time of this one in a 4096x4096 GEMV. Left shifts are integer
//   multiplies here, and the one right shift (the top byte) goes through an exact i32 -> f32 -> bits trip.
// - Normals: the 7 magnitude bits land at f32 bits 20..26 and 120 << 23 rebiases the exponent (7 -> 127).
// - Subnormals (exponent field 0): the normal formula gives a = 2^-7 (1 + m/8); the right value m * 2^-9 is
//   2a - 2^-6, one exact f32 subtraction (Sterbenz). Written as 2a - max(a, 2^-6) it holds for every code:
//   no compare, no select (4-6% faster than compare + select; a float min() was 1.5x slower).

// Decode the four codes packed little-endian in one u32: .x is the lowest byte (the first weight).
fn e4m3x4_to_vec4(word: u32) -> vec4<f32> {
  // Byte 3 moved down as a number: f32(word & 0x7F000000) = mag3 * 2^24 exactly; * 2^-24 + 2^23 puts mag3
  // in the low mantissa bits (bits = 0x4B000000 | mag3). The other bytes need only left shifts.
  let top = bitcast<u32>(f32(bitcast<i32>(word & 0x7F000000u)) * (1.0 / 16777216.0) + 8388608.0);
  // The 7 magnitude bits (exponent, mantissa) of code i at f32 bits 20..26 (left shift = multiply), and
  // its sign at bit 31.
  let src = vec4<u32>(word, word, word, top);
  let mag = (src * vec4<u32>(1u << 20u, 1u << 12u, 1u << 4u, 1u << 20u)) & vec4<u32>(0x07F00000u);
  let sign = (vec4<u32>(word) * vec4<u32>(1u << 24u, 1u << 16u, 1u << 8u, 1u)) & vec4<u32>(0x80000000u);
  // a = the normal formula 2^(e-7) (1 + m/8), exact for e >= 1. v = 2a - max(a, 2^-6) (max on the bits of
  // positive floats orders them as numbers): 2a - a = a for normals, 2a - 2^-6 = m * 2^-9 for subnormals.
  let a = mag + vec4<u32>(120u << 23u);
  let v = bitcast<vec4<f32>>(a + vec4<u32>(1u << 23u)) - bitcast<vec4<f32>>(max(a, vec4<u32>(121u << 23u)));
  return bitcast<vec4<f32>>(bitcast<vec4<u32>>(v) | sign);
}

// Decode one code held in the low 8 bits of `code` (the higher bits are ignored).
fn e4m3_to_f32(code: u32) -> f32 {
  return e4m3x4_to_vec4(code & 0xFFu).x;
}
