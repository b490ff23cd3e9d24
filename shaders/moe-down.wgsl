// moe-down: y[p, o] = down_e[o] · h[p] for every (token, slot) pair p whose expert e = experts[p] lives in
// this part of the down_proj weights (decode path; see moe-gate-up.wgsl). With routed == 0 every pair
// uses the part's expert 0: the shared expert(s), whose y is then the MoE block's base output.
// The weighted sum over slots happens in moe-combine.wgsl, in a fixed order (no float atomics).
// h: [pairs, inter] f32 (moe-gate-up's output) · experts: [pairs] u32 (routed) · down_w: this part's
// experts [part_experts, hidden, inter] as packs of 4 weights (Q4: 8), FP8 e4m3, Q4 4-bit, BF16 or F32 (flags;
// common/moe-weights.wgsl) · down_s (FP8 and Q4; otherwise bound to the weights and not read):
// [part_experts, ceil(hidden/128), ceil(inter/128)] f32 · y: [pairs, hidden] f32
// dispatch: (ceil(hidden / (WG_SIZE * ROWS)), pairs); each thread computes ROWS outputs of one pair, sharing
// each h load over 8 decoded packs; pairs whose expert is in another part return at once.
// Q4 scales instead: [part_experts, out, ceil(in/BLOCK)] f32, BLOCK = the group (common/moe-weights.wgsl, docs/q4.md).
// needs: inter % 4 == 0 (Q4: % 8; checked in src/kernels/moe-down.ts) · reference: src/reference/moe-experts.ts

#include "common/moe-weights.wgsl"

override WG_SIZE: u32 = 64;
const ROWS = 8u;   // output rows per thread (register blocking: 8 named vec4 accumulators measured best)
const ONE = vec4<f32>(1.0);

struct Params {
  pairs: u32,
  hidden: u32,
  inter: u32,
  first_expert: u32,   // global index of this part's expert 0
  part_experts: u32,
  routed: u32,         // 0: every pair uses the part's expert 0
}

@group(0) @binding(0) var<storage, read> h: array<Acts>;            // [pairs, inter / PACK]
@group(0) @binding(1) var<storage, read> experts: array<u32>;       // [pairs] (routed)
@group(0) @binding(2) var<storage, read> down_w: array<Pack>;       // [part_experts, hidden, inter / PACK]
@group(0) @binding(3) var<storage, read> down_s: array<f32>;        // [part_experts, ceil(hidden/128), ceil(inter/128)]
@group(0) @binding(4) var<storage, read_write> y: array<f32>;       // [pairs, hidden]
@group(0) @binding(5) var<uniform> params: Params;

fn down_pack(i: u32) -> Weights { return unpack(down_w[i]); }  // pack i of down_w

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let pair = wg.y;
  let o0 = wg.x * WG_SIZE * ROWS + lid;
  var e = 0u;
  if (params.routed == 1u) {
    e = experts[pair] - params.first_expert; // wraps above part_experts when e < first_expert
  }
  if (e >= params.part_experts || o0 >= params.hidden) {
    return;
  }
  let packs = params.inter / PACK; // per row, of h (Acts) and of each weight row (Pack)
  let h_row = pair * packs;
  // This thread's ROWS output rows o0 + k * WG_SIZE, k = 0..7 (lo: 0..3, hi: 4..7). Rows past the end are
  // clamped to the last row: computed (every load in bounds) but never stored.
  let last = vec4<u32>(params.hidden - 1u);
  let step = vec4<u32>(0u, 1u, 2u, 3u) * WG_SIZE;
  let rows_lo = min(vec4<u32>(o0) + step, last);
  let rows_hi = min(vec4<u32>(o0 + 4u * WG_SIZE) + step, last);
  let w_lo = (vec4<u32>(e * params.hidden) + rows_lo) * packs;   // each row's first pack
  let w_hi = (vec4<u32>(e * params.hidden) + rows_hi) * packs;
  let s_cols = scale_cols(params.inter);
  let s_lo = scale_row4(e, rows_lo, params.hidden, s_cols);
  let s_hi = scale_row4(e, rows_hi, params.hidden, s_cols);

  var acc_lo = vec4<f32>(0.0);
  var acc_hi = vec4<f32>(0.0);
  // One block of BLOCK columns at a time: sum w * h in vec4 lanes, then scale once per block (FP8, Q4; s * UNIT).
  for (var b = 0u; b < s_cols; b++) {
    let start = b * (BLOCK / PACK);
    let end = min(start + BLOCK / PACK, packs);
    var a0 = vec4<f32>(0.0);
    var a1 = vec4<f32>(0.0);
    var a2 = vec4<f32>(0.0);
    var a3 = vec4<f32>(0.0);
    var a4 = vec4<f32>(0.0);
    var a5 = vec4<f32>(0.0);
    var a6 = vec4<f32>(0.0);
    var a7 = vec4<f32>(0.0);
    for (var j = start; j < end; j++) {
      let hv = h[h_row + j];
      a0 += pack_mul(down_pack(w_lo.x + j), hv);
      a1 += pack_mul(down_pack(w_lo.y + j), hv);
      a2 += pack_mul(down_pack(w_lo.z + j), hv);
      a3 += pack_mul(down_pack(w_lo.w + j), hv);
      a4 += pack_mul(down_pack(w_hi.x + j), hv);
      a5 += pack_mul(down_pack(w_hi.y + j), hv);
      a6 += pack_mul(down_pack(w_hi.z + j), hv);
      a7 += pack_mul(down_pack(w_hi.w + j), hv);
    }
#if SCALED
    let sc_lo = UNIT * vec4<f32>(down_s[s_lo.x + b], down_s[s_lo.y + b], down_s[s_lo.z + b], down_s[s_lo.w + b]);
    let sc_hi = UNIT * vec4<f32>(down_s[s_hi.x + b], down_s[s_hi.y + b], down_s[s_hi.z + b], down_s[s_hi.w + b]);
#else
    let sc_lo = ONE;
    let sc_hi = ONE;
#endif
    acc_lo += sc_lo * vec4<f32>(dot(a0, ONE), dot(a1, ONE), dot(a2, ONE), dot(a3, ONE));
    acc_hi += sc_hi * vec4<f32>(dot(a4, ONE), dot(a5, ONE), dot(a6, ONE), dot(a7, ONE));
  }
  let out = pair * params.hidden;
  for (var k = 0u; k < 4u; k++) {
    let o_lo = o0 + k * WG_SIZE;
    let o_hi = o_lo + 4u * WG_SIZE;
    if (o_lo < params.hidden) {
      y[out + o_lo] = acc_lo[k];
    }
    if (o_hi < params.hidden) {
      y[out + o_hi] = acc_hi[k];
    }
  }
}
