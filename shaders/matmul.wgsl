// matmul: y[row, o] = sum_k x[row, k] * W[o, k]  (HF Linear: y = x · Wᵀ), or y[row, o] += ... when ACCUMULATE
// (the fused residual add: y holds the residual stream and is updated in place).
// Both paths in one shader: a thread owns ROWS rows x 8 outputs (two 4x4 weight tiles per k step, 2 * ROWS
// named vec4 accumulators), so each weight tile it reads and decodes serves ROWS rows.
//   decode, 1..8 rows: ROWS = rows, a single row block: every weight is read once.
//   prefill: ROWS = 8, the register block is 8 rows x 8 outputs (SwiftShader CPU time per flop: 22% below
//   ROWS = 4, 12-15% below 3 or 6).
// Flags: the weight format (FP8 e4m3 with f32 block scales, Q4 4-bit codes with group scales, BF16, else F32; they differ only in weight_tile(),
// so one file keeps the loop, accumulators and epilogue in one place) and SUBGROUPS (x4 below).
//
// W (layout and CPU conversion: src/kernels/matmul-layout.ts): [groups][k_tiles][4 k][4 o], groups =
// 2 * ceil(out / 8) groups of 4 output rows, k_tiles = ceil(in / 4); element (o, k) sits in tile
// (o / 4, k / 4) at [k % 4][o % 4]; zero-padded. A tile is one vec4<u32> for FP8 (4 codes per u32, byte i
// = output 4g + i), two for BF16, four for F32; a thread walks two contiguous streams (groups 2t, 2t + 1).
// scale (FP8): the checkpoint's weight_scale_inv [ceil(out / BLOCK_ROWS), ceil(in / BLOCK_COLS)] f32,
// W[o, k] = e4m3(q[o, k]) * scale[o / BLOCK_ROWS, k / BLOCK_COLS] (docs/conventions.md "FP8"); folded
// into x per k block (x * scale, 4 multiplies per row and tile), never into W.
// Q4 (docs/q4.md): a tile is 4 outputs x 8 k, one vec4<u32> (u32 i = output 4g + i's 8 codes, nibble n = k
// 8w + n), so the 4-k tile kt is half kt % 2 of word kt / 2 and k_tiles counts 2 * ceil(in / 8) per group.
// scale: [out, scale_cols] f32, one per output and BLOCK_COLS (the group) inputs, W[o, k] = (nibble - 8) *
// scale[o, k / BLOCK_COLS]; it differs per output, so it goes into the decoded tile (one multiply-add per
// 4 weights), not into x.
// x: [rows, in] f32 from element x_offset · y: [rows, y_stride] f32 from element y_offset, columns 0..out-1
// written (y_stride > out: a column slice). The offsets are params, not binding offsets, so a row or column
// slice may start anywhere (storage bindings may only start at multiples of minStorageBufferOffsetAlignment).
// dispatch: (ceil(ceil(out / 8) / WG_SIZE), ceil(rows / ROWS)); thread (t, b) owns outputs 8t..8t+7 of rows
// b*ROWS..b*ROWS+ROWS-1 (rows past the end are computed on the last row and not stored).
// needs: 1 <= ROWS <= 8, BLOCK_ROWS % 8 == 0, BLOCK_COLS % 4 == 0 (checked in src/kernels/matmul.ts)
// reference: src/reference/matmul.ts `linear`, W dequantized by src/checkpoint/fp8-blocks.ts (q4: q4-quantize.ts)

#if SUBGROUPS
enable subgroups;
#endif
#if FP8
#include "common/fp8.wgsl"
#endif
#if Q4
#include "common/q4.wgsl"
#endif

override WG_SIZE: u32 = 64;
override ROWS: u32 = 8;
override BLOCK_ROWS: u32 = 128;
override BLOCK_COLS: u32 = 128;
override ACCUMULATE: bool = false;

struct Params {
  rows: u32,
  in_dim: u32,
  out_dim: u32,
  y_stride: u32,    // row stride of y (>= out_dim)
  k_tiles: u32,     // ceil(in_dim / 4)
  scale_cols: u32,  // ceil(in_dim / BLOCK_COLS) (FP8; unused otherwise)
  x_offset: u32,    // first element of x
  y_offset: u32,    // first element of y
}

#if SCALED
@group(0) @binding(0) var<storage, read> w: array<vec4<u32>>;      // [groups * k_tiles] (Q4: / 2) one tile each
@group(0) @binding(1) var<storage, read> scale: array<f32>;        // [ceil(out/BLOCK_ROWS), scale_cols] (Q4: [out, scale_cols])
@group(0) @binding(2) var<storage, read> x: array<f32>;            // [rows, in_dim]
@group(0) @binding(3) var<storage, read_write> y: array<f32>;      // [rows, y_stride]
@group(0) @binding(4) var<uniform> params: Params;
#else
@group(0) @binding(0) var<storage, read> w: array<vec4<u32>>;      // [groups * k_tiles * (2 BF16 | 4 F32)]
@group(0) @binding(1) var<storage, read> x: array<f32>;            // [rows, in_dim]
@group(0) @binding(2) var<storage, read_write> y: array<f32>;      // [rows, y_stride]
@group(0) @binding(3) var<uniform> params: Params;
#endif

// Tile i as a matrix whose column j is the 4 outputs at k = 4t + j, so tile * x4 = sum_j column_j * x[k + j].
// `s`: Q4 only, the 4 outputs' scales for this tile's group.
fn weight_tile(i: u32, s: vec4<f32>) -> mat4x4<f32> {
#if Q4
  return q4_tile(w[i / 2u], i % 2u, s);
#else
#if FP8
  let q = w[i];
  return mat4x4<f32>(e4m3x4_to_vec4(q.x), e4m3x4_to_vec4(q.y), e4m3x4_to_vec4(q.z), e4m3x4_to_vec4(q.w));
#else
#if BF16
  // Two BF16 per u32, low half first: the low half becomes an f32 by a 16-bit left shift (a multiply:
  // shifts are scalarized in SwiftShader), the high half by masking.
  let a = w[2u * i];
  let b = w[2u * i + 1u];
  let lo = bitcast<vec4<f32>>(a * 65536u);
  let hi = bitcast<vec4<f32>>(a & vec4<u32>(0xFFFF0000u));
  let lo2 = bitcast<vec4<f32>>(b * 65536u);
  let hi2 = bitcast<vec4<f32>>(b & vec4<u32>(0xFFFF0000u));
  return mat4x4<f32>(vec4<f32>(lo.x, hi.x, lo.y, hi.y), vec4<f32>(lo.z, hi.z, lo.w, hi.w),
                     vec4<f32>(lo2.x, hi2.x, lo2.y, hi2.y), vec4<f32>(lo2.z, hi2.z, lo2.w, hi2.w));
#else
  return mat4x4<f32>(bitcast<vec4<f32>>(w[4u * i]), bitcast<vec4<f32>>(w[4u * i + 1u]),
                     bitcast<vec4<f32>>(w[4u * i + 2u]), bitcast<vec4<f32>>(w[4u * i + 3u]));
#endif
#endif
#endif
}

#if Q4
// The scales of outputs o..o+3 for group kb (rows past the end read the last row's: computed, not stored).
fn scales4(o: u32, kb: u32) -> vec4<f32> {
  let last = params.out_dim - 1u;
  let c = params.scale_cols;
  return vec4<f32>(scale[min(o, last) * c + kb], scale[min(o + 1u, last) * c + kb], scale[min(o + 2u, last) * c + kb], scale[min(o + 3u, last) * c + kb]);
}
#endif

// x[row, k..k+3] times s. `tail`: zero past in_dim (the last tile when in_dim is not a multiple of 4).
// With subgroups, lane j loads x[row, k + j % 4] and lanes 0..3 broadcast: one gather instead of four (every
// lane of a subgroup is at the same k; on SwiftShader that made 8-row blocks ~15% faster).
fn x4(row: u32, k: u32, s: f32, tail: bool) -> vec4<f32> {
  let i = params.x_offset + row * params.in_dim + k;
#if SUBGROUPS
  let j = lane & 3u;
  let v = select(x[i + j], 0.0, tail && k + j >= params.in_dim);
  return vec4<f32>(subgroupBroadcast(v, 0u), subgroupBroadcast(v, 1u), subgroupBroadcast(v, 2u), subgroupBroadcast(v, 3u)) * s;
#else
  let v = vec4<f32>(x[i], x[i + 1u], x[i + 2u], x[i + 3u]) * s;
  if (tail) {
    return select(vec4<f32>(0.0), v, vec4<u32>(k) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(params.in_dim));
  }
  return v;
#endif
}

// Accumulators a<row><group>: row of the block, group 0 / 1 of the thread (named: an array would live in memory).
var<private> a00: vec4<f32>; var<private> a01: vec4<f32>; var<private> a10: vec4<f32>; var<private> a11: vec4<f32>;
var<private> a20: vec4<f32>; var<private> a21: vec4<f32>; var<private> a30: vec4<f32>; var<private> a31: vec4<f32>;
var<private> a40: vec4<f32>; var<private> a41: vec4<f32>; var<private> a50: vec4<f32>; var<private> a51: vec4<f32>;
var<private> a60: vec4<f32>; var<private> a61: vec4<f32>; var<private> a70: vec4<f32>; var<private> a71: vec4<f32>;
var<private> lane: u32;  // subgroup_invocation_id (SUBGROUPS)

// Adds tiles w0 (group 2t) and w1 (group 2t + 1) times x[r[i], k..k+3] to row i's accumulators, for the
// ROWS rows of the block. ROWS is an override: the branches it rules out are dead code once it is substituted.
fn accumulate(w0: mat4x4<f32>, w1: mat4x4<f32>, r: array<u32, 8>, k: u32, s: f32, tail: bool) {
  { let xs = x4(r[0], k, s, tail); a00 += w0 * xs; a01 += w1 * xs; }
  if (ROWS > 1u) { let xs = x4(r[1], k, s, tail); a10 += w0 * xs; a11 += w1 * xs; }
  if (ROWS > 2u) { let xs = x4(r[2], k, s, tail); a20 += w0 * xs; a21 += w1 * xs; }
  if (ROWS > 3u) { let xs = x4(r[3], k, s, tail); a30 += w0 * xs; a31 += w1 * xs; }
  if (ROWS > 4u) { let xs = x4(r[4], k, s, tail); a40 += w0 * xs; a41 += w1 * xs; }
  if (ROWS > 5u) { let xs = x4(r[5], k, s, tail); a50 += w0 * xs; a51 += w1 * xs; }
  if (ROWS > 6u) { let xs = x4(r[6], k, s, tail); a60 += w0 * xs; a61 += w1 * xs; }
  if (ROWS > 7u) { let xs = x4(r[7], k, s, tail); a70 += w0 * xs; a71 += w1 * xs; }
}

// y[row, o0..o0+7] (=|+=) (lo, hi), skipping rows and outputs past the end.
fn store(row: u32, o0: u32, lo: vec4<f32>, hi: vec4<f32>) {
  if (row >= params.rows) {
    return;
  }
  let v = array<f32, 8>(lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w);
  for (var j = 0u; j < 8u && o0 + j < params.out_dim; j++) {
    let i = params.y_offset + row * params.y_stride + o0 + j;
    if (ACCUMULATE) {
      y[i] += v[j];
    } else {
      y[i] = v[j];
    }
  }
}

@compute @workgroup_size(WG_SIZE)
#if SUBGROUPS
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(subgroup_invocation_id) sg_lane: u32) {
  lane = sg_lane;
#else
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
#endif
  // No early return (subgroup operations need every lane): threads past the last octet compute on it and
  // store nothing.
  let t = min(gid.x, (params.out_dim - 1u) / 8u);
  // Rows past the end compute on the last row (in bounds) and are not stored.
  let row0 = gid.y * ROWS;
  let last = params.rows - 1u;
  let r = array<u32, 8>(min(row0, last), min(row0 + 1u, last), min(row0 + 2u, last), min(row0 + 3u, last),
                        min(row0 + 4u, last), min(row0 + 5u, last), min(row0 + 6u, last), min(row0 + 7u, last));
  let base0 = 2u * t * params.k_tiles;  // first tile of group 2t; group 2t + 1 follows
  let base1 = base0 + params.k_tiles;
#if SCALED
  let block_tiles = BLOCK_COLS / 4u;
  let scale_row = (8u * t / BLOCK_ROWS) * params.scale_cols;
  let blocks = params.scale_cols;
#else
  let block_tiles = params.k_tiles;
  let blocks = 1u;
#endif
  for (var kb = 0u; kb < blocks; kb++) {
#if FP8
    let s = scale[scale_row + kb];
#else
    let s = 1.0;
#endif
#if Q4
    let s0 = scales4(8u * t, kb);
    let s1 = scales4(8u * t + 4u, kb);
#else
    let s0 = vec4<f32>(1.0);
    let s1 = s0;
#endif
    let end = min((kb + 1u) * block_tiles, params.in_dim / 4u);  // whole tiles; the tail is below
    var kt = kb * block_tiles;
#if Q4
    // Whole words: one load of 4 outputs' words serves both of its tiles (kt is even here: k_tiles and
    // block_tiles are). A word cut by in_dim leaves its first tile to the loop below.
    for (; kt + 1u < end; kt += 2u) {
      let q0 = w[(base0 + kt) / 2u];
      let q1 = w[(base1 + kt) / 2u];
      accumulate(q4_tile(q0, 0u, s0), q4_tile(q1, 0u, s1), r, 4u * kt, s, false);
      accumulate(q4_tile(q0, 1u, s0), q4_tile(q1, 1u, s1), r, 4u * kt + 4u, s, false);
    }
#endif
    for (; kt < end; kt++) {
      accumulate(weight_tile(base0 + kt, s0), weight_tile(base1 + kt, s1), r, 4u * kt, s, false);
    }
  }
  if (params.in_dim % 4u != 0u) {  // the last tile, with x zero past in_dim
    let kt = params.in_dim / 4u;
#if FP8
    let s = scale[scale_row + params.scale_cols - 1u];
#else
    let s = 1.0;
#endif
#if Q4
    let s0 = scales4(8u * t, params.scale_cols - 1u);
    let s1 = scales4(8u * t + 4u, params.scale_cols - 1u);
#else
    let s0 = vec4<f32>(1.0);
    let s1 = s0;
#endif
    accumulate(weight_tile(base0 + kt, s0), weight_tile(base1 + kt, s1), r, 4u * kt, s, true);
  }
  let o0 = 8u * gid.x;  // >= out_dim for the spare threads: store() writes nothing
  store(row0, o0, a00, a01);
  if (ROWS > 1u) { store(row0 + 1u, o0, a10, a11); }
  if (ROWS > 2u) { store(row0 + 2u, o0, a20, a21); }
  if (ROWS > 3u) { store(row0 + 3u, o0, a30, a31); }
  if (ROWS > 4u) { store(row0 + 4u, o0, a40, a41); }
  if (ROWS > 5u) { store(row0 + 5u, o0, a50, a51); }
  if (ROWS > 6u) { store(row0 + 6u, o0, a60, a61); }
  if (ROWS > 7u) { store(row0 + 7u, o0, a70, a71); }
}
