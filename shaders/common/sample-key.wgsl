// Order key of an f32 (include-only, shared by the sample-* kernels): a < b as floats <=> key(a) < key(b)
// as u32; -0 is keyed as +0, so equal floats tie. Not for NaN.

fn key_of(z: f32) -> u32 {
  let b = select(bitcast<u32>(z), 0u, z == 0.0);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

fn float_of(k: u32) -> f32 {
  return bitcast<f32>(select(~k, k & 0x7FFFFFFFu, (k & 0x80000000u) != 0u));
}
