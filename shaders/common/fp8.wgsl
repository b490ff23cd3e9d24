// FP8 e4m3fn decode (include-only). 1 sign, 4 exponent bits (bias 7), 3 mantissa bits; exponent 0 is
// subnormal (m/8 * 2^-6); 0x7F / 0xFF are NaN and never occur in checkpoints; max 448.
// Exact, and no intermediate is an f32 subnormal (SwiftShader flushes those to zero): normals get their
// exponent rebiased by 127 - 7 = 120 directly in the f32 bits; subnormals are f32(m) * 2^-9.
// reference: src/checkpoint/decode.ts (e4m3 table)

// Decode one code held in the low 8 bits of `code`.
fn e4m3_to_f32(code: u32) -> f32 {
  let mag = code & 0x7Fu;
  let normal = bitcast<f32>((mag << 20u) + (120u << 23u));
  let subnormal = f32(mag) * (1.0 / 512.0);
  let value = select(normal, subnormal, mag < 8u);
  return select(value, -value, (code & 0x80u) != 0u);
}

// Decode the four codes packed little-endian in one u32: .x is the lowest byte (the first weight).
fn e4m3x4_to_vec4(word: u32) -> vec4<f32> {
  let bytes = vec4<u32>(word, word >> 8u, word >> 16u, word >> 24u) & vec4<u32>(0xFFu);
  let mag = bytes & vec4<u32>(0x7Fu);
  let normal = bitcast<vec4<f32>>((mag << vec4<u32>(20u)) + vec4<u32>(120u << 23u));
  let subnormal = vec4<f32>(mag) * (1.0 / 512.0);
  let value = select(normal, subnormal, mag < vec4<u32>(8u));
  return select(value, -value, (bytes & vec4<u32>(0x80u)) != vec4<u32>(0u));
}
