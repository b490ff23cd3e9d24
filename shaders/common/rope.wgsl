// Rotary angles (include-only): cos/sin of pos * inv_freq in f32, accurate at any position.
// Two things lose accuracy the naive way: the f32 product pos * inv_freq (~angle * 2^-24 rad, 2.4e-4 rad at
// position 4096) and the built-in sin/cos (SwiftShader's are off by up to 1.9e-4 on [-pi, pi], which Vulkan's
// 2^-11 allows). So the angle is a sum of four exact f32 products (pos and inv_freq split into 12-bit halves),
// each reduced mod 2*pi with a three-part 2*pi (Cody-Waite: k * part is exact for the first two parts, 8 bits
// each, while |k| < 2^16), then to [-pi/4, pi/4] plus a quadrant, where short Taylor series are exact to f32.
// Error <= ~1.1e-6 rad (rms ~1.3e-7) for pos < 2^24 and pos * inv_freq < 2^16 * 2 * pi (any position up to
// 411774, since rotary inv_freq <= 1). The pair convention (x[2i], x[2i+1]) is model.py's
// (docs/conventions.md "RoPE"). reference: src/reference/rope-yarn.ts rotatePairs

const TWO_PI_A: f32 = 6.28125;                // 201 / 32
const TWO_PI_B: f32 = 0.0019378662109375;     // 127 / 65536
const TWO_PI_C: f32 = -2.5590314e-6;          // 2*pi - A - B
const INV_TWO_PI: f32 = 0.15915494;

// t - round(t / 2pi) * 2pi, for |t| < 2^16 * 2pi. t - k*A is exact (Sterbenz), k*A and k*B are exact products.
fn reduce_two_pi(t: f32) -> f32 {
  let k = round(t * INV_TWO_PI);
  return ((t - k * TWO_PI_A) - k * TWO_PI_B) - k * TWO_PI_C;
}

// (cos, sin) of r, |r| <= ~pi: quadrant k, y = r - k*pi/2 in [-pi/4, pi/4] (the parts of 2pi / 4, exact for
// small k), Taylor series to y^10 / y^9 (truncation < 2e-9 there).
fn cos_sin_reduced(r: f32) -> vec2<f32> {
  let k = round(r * (4.0 * INV_TWO_PI));
  let y = ((r - k * (0.25 * TWO_PI_A)) - k * (0.25 * TWO_PI_B)) - k * (0.25 * TWO_PI_C);
  let y2 = y * y;
  let s = y * (1.0 + y2 * (-1.0 / 6.0 + y2 * (1.0 / 120.0 + y2 * (-1.0 / 5040.0 + y2 * (1.0 / 362880.0)))));
  let c = 1.0 + y2 * (-0.5 + y2 * (1.0 / 24.0 + y2 * (-1.0 / 720.0 + y2 * (1.0 / 40320.0 + y2 * (-1.0 / 3628800.0)))));
  switch ((i32(k) + 4) % 4) {
    case 1: { return vec2<f32>(-s, c); }
    case 2: { return vec2<f32>(-c, -s); }
    case 3: { return vec2<f32>(s, -c); }
    default: { return vec2<f32>(c, s); }
  }
}

// (cos, sin) of pos * inv_freq (inv_freq >= 0, as uploaded: the f32 rounding of the frequency is the input's).
fn rope_cos_sin(pos: u32, inv_freq: f32) -> vec2<f32> {
  let f_hi = bitcast<f32>(bitcast<u32>(inv_freq) & 0xFFFFF000u); // top 12 significant bits
  let f_lo = inv_freq - f_hi;                                     // the other 12 (exact)
  let p_hi = f32(pos & 0xFFF000u);
  let p_lo = f32(pos & 0xFFFu);
  let x = reduce_two_pi(p_hi * f_hi) + reduce_two_pi(p_hi * f_lo) + reduce_two_pi(p_lo * f_hi) + p_lo * f_lo;
  return cos_sin_reduced(reduce_two_pi(x));
}

// (a, b) rotated by the angle whose (cos, sin) is cs: (a cos - b sin, a sin + b cos).
fn rotate_pair(v: vec2<f32>, cs: vec2<f32>) -> vec2<f32> {
  return vec2<f32>(v.x * cs.x - v.y * cs.y, v.x * cs.y + v.y * cs.x);
}
