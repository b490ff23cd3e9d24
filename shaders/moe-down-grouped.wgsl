// moe-down-grouped: moe-down.wgsl for prefill: y[p, o] = down_e[o] · h[p] for the pairs of each tile
// (moe-group.wgsl: up to TILE pairs sharing expert e), so each decoded weight pack serves TILE pairs. Only
// tiles whose expert lives in this part do anything. With routed == 0 tile t is pairs (= rows)
// [t * TILE, t * TILE + TILE) on the part's expert 0 (the shared expert), and `group` is not read.
// h: [pairs, inter] f32 · group: moe-group's [1 + 3 * max_tiles + pairs] u32 · down_w: this part's experts
// [part_experts, hidden, inter] as packs of 4 weights (Q4: 8), FP8 e4m3, Q4 4-bit, BF16 or F32 (flags; common/moe-weights.wgsl)
// · down_s (FP8 and Q4; otherwise bound to the weights and not read): [part_experts, ceil(hidden/128),
// ceil(inter/128)] f32 · y: [pairs, hidden] f32
// dispatch: (ceil(hidden / (4 * WG_SIZE)), max_tiles); each thread computes output rows o0 + r * WG_SIZE,
// r = 0..3, of one tile: 4 rows x TILE pairs = 16 named vec4 accumulators (measured 1.4x faster than
// 2 rows x 4 pairs).
// Q4 scales instead: [part_experts, out, ceil(in/BLOCK)] f32, BLOCK = the group (common/moe-weights.wgsl, docs/q4.md).
// needs: inter % 4 == 0 (Q4: % 8; checked in src/kernels/moe-down-grouped.ts) · reference: src/reference/moe-experts.ts

#include "common/moe-weights.wgsl"
#include "common/moe-tile.wgsl"

override WG_SIZE: u32 = 64;
const ONE = vec4<f32>(1.0);

struct Params {
  pairs: u32,
  hidden: u32,
  inter: u32,
  first_expert: u32,
  part_experts: u32,
  routed: u32,
  max_tiles: u32,
}

@group(0) @binding(0) var<storage, read> h: array<Acts>;            // [pairs, inter / PACK]
@group(0) @binding(1) var<storage, read> group: array<u32>;         // [1 + 3 * max_tiles + pairs] (routed)
@group(0) @binding(2) var<storage, read> down_w: array<Pack>;       // [part_experts, hidden, inter / PACK]
@group(0) @binding(3) var<storage, read> down_s: array<f32>;        // [part_experts, ceil(hidden/128), ceil(inter/128)]
@group(0) @binding(4) var<storage, read_write> y: array<f32>;       // [pairs, hidden]
@group(0) @binding(5) var<uniform> params: Params;

fn down_pack(i: u32) -> Weights { return unpack(down_w[i]); }  // pack i of down_w

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let tile = wg.y;
  let o0 = wg.x * 4u * WG_SIZE + lid;
  let o1 = o0 + WG_SIZE;
  let o2 = o0 + 2u * WG_SIZE;
  let o3 = o0 + 3u * WG_SIZE;
  let t = tile_pairs(tile, params.pairs);
  let e = t.e;
  let count = t.count;
  let pairs = t.pairs;
  if (e >= params.part_experts || count == 0u || o0 >= params.hidden) {
    return;
  }
  let packs = params.inter / PACK; // per row, of h (Acts) and of each weight row (Pack)
  let h_rows = pairs * packs;
  let r1 = min(o1, params.hidden - 1u); // clamped: computed, stored only when in range
  let r2 = min(o2, params.hidden - 1u);
  let r3 = min(o3, params.hidden - 1u);
  let w0 = (e * params.hidden + o0) * packs;
  let w1 = (e * params.hidden + r1) * packs;
  let w2 = (e * params.hidden + r2) * packs;
  let w3 = (e * params.hidden + r3) * packs;
  let s_cols = scale_cols(params.inter);
  let s0 = scale_row(e, o0, params.hidden, s_cols);
  let s1 = scale_row(e, r1, params.hidden, s_cols);
  let s2 = scale_row(e, r2, params.hidden, s_cols);
  let s3 = scale_row(e, r3, params.hidden, s_cols);

  var y0 = vec4<f32>(0.0); // y0[k] .. y3[k]: rows o0 .. o3 for pair k
  var y1 = vec4<f32>(0.0);
  var y2 = vec4<f32>(0.0);
  var y3 = vec4<f32>(0.0);
  for (var b = 0u; b < s_cols; b++) {
    let start = b * (BLOCK / PACK);
    let end = min(start + BLOCK / PACK, packs);
    var a0 = vec4<f32>(0.0);
    var a1 = vec4<f32>(0.0);
    var a2 = vec4<f32>(0.0);
    var a3 = vec4<f32>(0.0);
    var c0 = vec4<f32>(0.0);
    var c1 = vec4<f32>(0.0);
    var c2 = vec4<f32>(0.0);
    var c3 = vec4<f32>(0.0);
    var d0 = vec4<f32>(0.0);
    var d1 = vec4<f32>(0.0);
    var d2 = vec4<f32>(0.0);
    var d3 = vec4<f32>(0.0);
    var f0 = vec4<f32>(0.0);
    var f1 = vec4<f32>(0.0);
    var f2 = vec4<f32>(0.0);
    var f3 = vec4<f32>(0.0);
    for (var j = start; j < end; j++) {
      let wd = down_pack(w2 + j);
      let wf = down_pack(w3 + j);
      let wa = down_pack(w0 + j);
      let wc = down_pack(w1 + j);
      let h0 = h[h_rows.x + j];
      let h1 = h[h_rows.y + j];
      let h2 = h[h_rows.z + j];
      let h3 = h[h_rows.w + j];
      a0 += pack_mul(wa, h0);
      c0 += pack_mul(wc, h0);
      a1 += pack_mul(wa, h1);
      c1 += pack_mul(wc, h1);
      a2 += pack_mul(wa, h2);
      c2 += pack_mul(wc, h2);
      a3 += pack_mul(wa, h3);
      c3 += pack_mul(wc, h3);
      d0 += pack_mul(wd, h0);
      f0 += pack_mul(wf, h0);
      d1 += pack_mul(wd, h1);
      f1 += pack_mul(wf, h1);
      d2 += pack_mul(wd, h2);
      f2 += pack_mul(wf, h2);
      d3 += pack_mul(wd, h3);
      f3 += pack_mul(wf, h3);
    }
#if SCALED
    let s = UNIT * vec4<f32>(down_s[s0 + b], down_s[s1 + b], down_s[s2 + b], down_s[s3 + b]);
#else
    let s = ONE;
#endif
    y2 += s.z * vec4<f32>(dot(d0, ONE), dot(d1, ONE), dot(d2, ONE), dot(d3, ONE));
    y3 += s.w * vec4<f32>(dot(f0, ONE), dot(f1, ONE), dot(f2, ONE), dot(f3, ONE));
    y0 += s.x * vec4<f32>(dot(a0, ONE), dot(a1, ONE), dot(a2, ONE), dot(a3, ONE));
    y1 += s.y * vec4<f32>(dot(c0, ONE), dot(c1, ONE), dot(c2, ONE), dot(c3, ONE));
  }
  for (var k = 0u; k < count; k++) {
    y[pairs[k] * params.hidden + o0] = y0[k];
    if (o1 < params.hidden) {
      y[pairs[k] * params.hidden + o1] = y1[k];
    }
    if (o2 < params.hidden) {
      y[pairs[k] * params.hidden + o2] = y2[k];
    }
    if (o3 < params.hidden) {
      y[pairs[k] * params.hidden + o3] = y3[k];
    }
  }
}
