// moe-gate-up: h[p, i] = silu(gate_e[i] · x[r]) * (up_e[i] · x[r]) for every (token r, slot k) pair
// p = r * slots + k whose expert e = experts[p] lives in this part of the expert weights (decode path:
// each pair reads its own expert's rows; only the chosen experts are read, and the indices never leave
// the GPU). With routed == 0 every token uses expert 0 of the part (slots 1): the shared expert(s).
// gate_w, up_w: this part's experts [part_experts, inter, hidden] as packs of 4 weights (Q4: 8), FP8 e4m3, Q4 4-bit, BF16 or
// F32 (flags; common/moe-weights.wgsl) · gate_s, up_s (FP8 and Q4; otherwise bound to the weights and not
// read): [part_experts, ceil(inter/128), ceil(hidden/128)] f32 weight_scale_inv, W[i, j] = e4m3(q[i, j]) *
// s[i/128, j/128] (docs/conventions.md "FP8").
// dispatch: (ceil(inter / (WG_SIZE * ROWS)), rows * slots); each thread computes ROWS outputs of one pair,
// sharing each x load over 8 decoded packs. A workgroup whose pair's expert is in another part returns
// at once (the wrapper dispatches once per part).
// Q4 scales instead: [part_experts, out, ceil(in/BLOCK)] f32, BLOCK = the group (common/moe-weights.wgsl, docs/q4.md).
// needs: hidden % 4 == 0 (Q4: % 8; checked in src/kernels/moe-gate-up.ts) · reference: src/reference/moe-experts.ts

#include "common/moe-weights.wgsl"

override WG_SIZE: u32 = 64;
const ROWS = 4u;   // output rows per thread (register blocking: 8 named vec4 accumulators measured best)
const ONE = vec4<f32>(1.0);

struct Params {
  rows: u32,
  slots: u32,          // top_k (routed) or 1 (shared)
  hidden: u32,
  inter: u32,
  first_expert: u32,   // global index of this part's expert 0
  part_experts: u32,
  routed: u32,         // 0: every token uses the part's expert 0
}

@group(0) @binding(0) var<storage, read> x: array<Acts>;            // [rows, hidden / PACK]
@group(0) @binding(1) var<storage, read> experts: array<u32>;       // [rows, slots] (routed)
@group(0) @binding(2) var<storage, read> gate_w: array<Pack>;       // [part_experts, inter, hidden / PACK]
@group(0) @binding(3) var<storage, read> gate_s: array<f32>;        // [part_experts, ceil(inter/128), ceil(hidden/128)]
@group(0) @binding(4) var<storage, read> up_w: array<Pack>;         // [part_experts, inter, hidden / PACK]
@group(0) @binding(5) var<storage, read> up_s: array<f32>;          // [part_experts, ceil(inter/128), ceil(hidden/128)]
@group(0) @binding(6) var<storage, read_write> h: array<f32>;       // [rows * slots, inter]
@group(0) @binding(7) var<uniform> params: Params;

fn gate_pack(i: u32) -> Weights { return unpack(gate_w[i]); }  // pack i of gate_w
fn up_pack(i: u32) -> Weights { return unpack(up_w[i]); }  // pack i of up_w

fn silu_mul(g: f32, u: f32) -> f32 {
  // silu(g) = g / (1 + exp(-g)); exp(-g) = +inf for g < -88 gives -0, the right limit.
  return g / (1.0 + exp(-g)) * u;
}

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let pair = wg.y;
  let i0 = wg.x * WG_SIZE * ROWS + lid;
  var e = 0u;
  if (params.routed == 1u) {
    e = experts[pair] - params.first_expert; // wraps above part_experts when e < first_expert
  }
  if (e >= params.part_experts || i0 >= params.inter) {
    return;
  }
  let r = pair / params.slots;
  let packs = params.hidden / PACK; // per row, of x (Acts) and of each weight row (Pack)
  let x_row = r * packs;
  // This thread's ROWS output rows i0 + k * WG_SIZE. Rows past the end are clamped to the last row:
  // computed (every load in bounds) but never stored.
  let last = params.inter - 1u;
  let rows = vec4<u32>(i0, min(i0 + WG_SIZE, last), min(i0 + 2u * WG_SIZE, last), min(i0 + 3u * WG_SIZE, last));
  let w_row = (vec4<u32>(e * params.inter) + rows) * packs;        // each row's first pack
  let s_cols = scale_cols(params.hidden);
  let s_row = scale_row4(e, rows, params.inter, s_cols);

  var g = vec4<f32>(0.0); // g[k], u[k]: row k's gate and up dot products
  var u = vec4<f32>(0.0);
  // One block of BLOCK columns at a time: sum w * x in vec4 lanes, then scale once per block (FP8, Q4; s * UNIT).
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
    for (var j = start; j < end; j++) {
      let xv = x[x_row + j];
      g0 += pack_mul(gate_pack(w_row.x + j), xv);
      u0 += pack_mul(up_pack(w_row.x + j), xv);
      g1 += pack_mul(gate_pack(w_row.y + j), xv);
      u1 += pack_mul(up_pack(w_row.y + j), xv);
      g2 += pack_mul(gate_pack(w_row.z + j), xv);
      u2 += pack_mul(up_pack(w_row.z + j), xv);
      g3 += pack_mul(gate_pack(w_row.w + j), xv);
      u3 += pack_mul(up_pack(w_row.w + j), xv);
    }
#if SCALED
    let gs = UNIT * vec4<f32>(gate_s[s_row.x + b], gate_s[s_row.y + b], gate_s[s_row.z + b], gate_s[s_row.w + b]);
    let us = UNIT * vec4<f32>(up_s[s_row.x + b], up_s[s_row.y + b], up_s[s_row.z + b], up_s[s_row.w + b]);
#else
    let gs = ONE;
    let us = ONE;
#endif
    g += gs * vec4<f32>(dot(g0, ONE), dot(g1, ONE), dot(g2, ONE), dot(g3, ONE));
    u += us * vec4<f32>(dot(u0, ONE), dot(u1, ONE), dot(u2, ONE), dot(u3, ONE));
  }
  let out = pair * params.inter;
  for (var k = 0u; k < ROWS; k++) {
    let i = i0 + k * WG_SIZE;
    if (i < params.inter) {
      h[out + i] = silu_mul(g[k], u[k]);
    }
  }
}
