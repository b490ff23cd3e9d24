// moe-gate-up-grouped: moe-gate-up.wgsl for prefill: h[p, i] = silu(gate_e[i] · x[r]) * (up_e[i] · x[r])
// for the pairs p = r * slots + k of each tile (moe-group.wgsl: up to TILE pairs sharing expert e), so each
// decoded weight pack serves TILE tokens. Only tiles whose expert lives in this part do anything (the
// wrapper dispatches once per part). With routed == 0 tile t is rows [t * TILE, t * TILE + TILE) on the
// part's expert 0 (the shared expert), and `group` is not read.
// x: [rows, hidden] f32 · group: moe-group's [1 + 3 * max_tiles + pairs] u32 · gate_w, up_w: this part's
// experts [part_experts, inter, hidden] as packs of 4 weights (Q4: 8), FP8 e4m3, Q4 4-bit, BF16 or F32 (flags;
// common/moe-weights.wgsl) · gate_s, up_s (FP8 and Q4; otherwise bound to the weights and not read):
// [part_experts, ceil(inter/128), ceil(hidden/128)] f32 · h: [pairs, inter] f32
// dispatch: (ceil(inter / (2 * WG_SIZE)), max_tiles); each thread computes rows i and i + WG_SIZE of one
// tile: 2 rows x TILE pairs x (gate, up) = 16 named vec4 accumulators, each decoded pack serving 4 pairs
// and each x load 2 rows (measured 1.2x faster than 1 row x 4 pairs, 2x faster than the decode path).
// Q4 scales instead: [part_experts, out, ceil(in/BLOCK)] f32, BLOCK = the group (common/moe-weights.wgsl, docs/q4.md).
// needs: hidden % 4 == 0 (Q4: % 8; checked in src/kernels/moe-gate-up-grouped.ts) · reference: src/reference/moe-experts.ts

#include "common/moe-weights.wgsl"
#include "common/moe-tile.wgsl"

override WG_SIZE: u32 = 64;
const ONE = vec4<f32>(1.0);

struct Params {
  rows: u32,
  slots: u32,
  hidden: u32,
  inter: u32,
  first_expert: u32,
  part_experts: u32,
  routed: u32,
  max_tiles: u32,
}

@group(0) @binding(0) var<storage, read> x: array<Acts>;            // [rows, hidden / PACK]
@group(0) @binding(1) var<storage, read> group: array<u32>;         // [1 + 3 * max_tiles + pairs] (routed)
@group(0) @binding(2) var<storage, read> gate_w: array<Pack>;       // [part_experts, inter, hidden / PACK]
@group(0) @binding(3) var<storage, read> gate_s: array<f32>;        // [part_experts, ceil(inter/128), ceil(hidden/128)]
@group(0) @binding(4) var<storage, read> up_w: array<Pack>;         // [part_experts, inter, hidden / PACK]
@group(0) @binding(5) var<storage, read> up_s: array<f32>;          // [part_experts, ceil(inter/128), ceil(hidden/128)]
@group(0) @binding(6) var<storage, read_write> h: array<f32>;       // [pairs, inter]
@group(0) @binding(7) var<uniform> params: Params;

fn gate_pack(i: u32) -> Weights { return unpack(gate_w[i]); }  // pack i of gate_w
fn up_pack(i: u32) -> Weights { return unpack(up_w[i]); }  // pack i of up_w

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let tile = wg.y;
  let i = wg.x * 2u * WG_SIZE + lid;
  let i1 = min(i + WG_SIZE, params.inter - 1u); // clamped: computed, stored only when in range
  let t = tile_pairs(tile, params.rows);
  let e = t.e;
  let count = t.count;
  let pairs = t.pairs;
  if (e >= params.part_experts || count == 0u || i >= params.inter) {
    return;
  }
  let packs = params.hidden / PACK; // per row, of x (Acts) and of each weight row (Pack)
  let x_rows = (pairs / params.slots) * packs;          // each pair's token row of x, in Acts
  let w_row = (e * params.inter + i) * packs;
  let w_row1 = (e * params.inter + i1) * packs;
  let s_cols = scale_cols(params.hidden);
  let s_row = scale_row(e, i, params.inter, s_cols);
  let s_row1 = scale_row(e, i1, params.inter, s_cols);

  var g = vec4<f32>(0.0); // g[k], u[k]: pair k's gate and up dot products for row i; gb, ub: row i1
  var u = vec4<f32>(0.0);
  var gb = vec4<f32>(0.0);
  var ub = vec4<f32>(0.0);
  for (var b = 0u; b < s_cols; b++) {
    let start = b * (BLOCK / PACK);
    let end = min(start + BLOCK / PACK, packs);
    var g0 = vec4<f32>(0.0);
    var g1 = vec4<f32>(0.0);
    var g2 = vec4<f32>(0.0);
    var g3 = vec4<f32>(0.0);
    var u0 = vec4<f32>(0.0);
    var u1 = vec4<f32>(0.0);
    var u2 = vec4<f32>(0.0);
    var u3 = vec4<f32>(0.0);
    var p0 = vec4<f32>(0.0);
    var p1 = vec4<f32>(0.0);
    var p2 = vec4<f32>(0.0);
    var p3 = vec4<f32>(0.0);
    var q0 = vec4<f32>(0.0);
    var q1 = vec4<f32>(0.0);
    var q2 = vec4<f32>(0.0);
    var q3 = vec4<f32>(0.0);
    for (var j = start; j < end; j++) {
      let gw = gate_pack(w_row + j);
      let uw = up_pack(w_row + j);
      let gw1 = gate_pack(w_row1 + j);
      let uw1 = up_pack(w_row1 + j);
      let x0 = x[x_rows.x + j];
      let x1 = x[x_rows.y + j];
      let x2 = x[x_rows.z + j];
      let x3 = x[x_rows.w + j];
      g0 += pack_mul(gw, x0);
      u0 += pack_mul(uw, x0);
      g1 += pack_mul(gw, x1);
      u1 += pack_mul(uw, x1);
      g2 += pack_mul(gw, x2);
      u2 += pack_mul(uw, x2);
      g3 += pack_mul(gw, x3);
      u3 += pack_mul(uw, x3);
      p0 += pack_mul(gw1, x0);
      q0 += pack_mul(uw1, x0);
      p1 += pack_mul(gw1, x1);
      q1 += pack_mul(uw1, x1);
      p2 += pack_mul(gw1, x2);
      q2 += pack_mul(uw1, x2);
      p3 += pack_mul(gw1, x3);
      q3 += pack_mul(uw1, x3);
    }
#if SCALED
    let s = UNIT * vec4<f32>(gate_s[s_row + b], up_s[s_row + b], gate_s[s_row1 + b], up_s[s_row1 + b]);
#else
    let s = ONE;
#endif
    gb += s.z * vec4<f32>(dot(p0, ONE), dot(p1, ONE), dot(p2, ONE), dot(p3, ONE));
    ub += s.w * vec4<f32>(dot(q0, ONE), dot(q1, ONE), dot(q2, ONE), dot(q3, ONE));
    g += s.x * vec4<f32>(dot(g0, ONE), dot(g1, ONE), dot(g2, ONE), dot(g3, ONE));
    u += s.y * vec4<f32>(dot(u0, ONE), dot(u1, ONE), dot(u2, ONE), dot(u3, ONE));
  }
  // silu(g) = g / (1 + exp(-g)); exp(-g) = +inf for g < -88 gives -0, the right limit.
  let act = g / (vec4<f32>(1.0) + exp(-g)) * u;
  let act1 = gb / (vec4<f32>(1.0) + exp(-gb)) * ub;
  for (var k = 0u; k < count; k++) {
    h[pairs[k] * params.inter + i] = act[k];
    if (i + WG_SIZE < params.inter) {
      h[pairs[k] * params.inter + i + WG_SIZE] = act1[k];
    }
  }
}
