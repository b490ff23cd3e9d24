// moe-down: y[p, o] = down_e[o] · h[p] for every (token, slot) pair p whose expert e = experts[p] lives in
// this part of the down_proj weights (decode path; see moe-gate-up.wgsl). With routed == 0 every pair
// uses the part's expert 0: the shared expert(s), whose y is then the MoE block's base output.
// The weighted sum over slots happens in moe-combine.wgsl, in a fixed order (no float atomics).
// h: [pairs, inter] f32 (moe-gate-up's output) · experts: [pairs] u32 (routed) · down_w: this part's
// experts [part_experts, hidden, inter] FP8 e4m3, 4 codes per u32 · down_s: [part_experts,
// ceil(hidden/128), ceil(inter/128)] f32 · y: [pairs, hidden] f32
// dispatch: (ceil(hidden / WG_SIZE), pairs); one thread per output o of one pair; other parts' pairs return.
// needs: inter % 4 == 0 (checked in src/kernels/moe-down.ts) · reference: src/reference/moe-experts.ts

#include "common/fp8.wgsl"

override WG_SIZE: u32 = 64;
const BLOCK = 128u;

struct Params {
  pairs: u32,
  hidden: u32,
  inter: u32,
  first_expert: u32,   // global index of this part's expert 0
  part_experts: u32,
  routed: u32,         // 0: every pair uses the part's expert 0
}

@group(0) @binding(0) var<storage, read> h: array<vec4<f32>>;       // [pairs, inter / 4]
@group(0) @binding(1) var<storage, read> experts: array<u32>;       // [pairs] (routed)
@group(0) @binding(2) var<storage, read> down_w: array<u32>;        // [part_experts, hidden, inter / 4]
@group(0) @binding(3) var<storage, read> down_s: array<f32>;        // [part_experts, ceil(hidden/128), ceil(inter/128)]
@group(0) @binding(4) var<storage, read_write> y: array<f32>;       // [pairs, hidden]
@group(0) @binding(5) var<uniform> params: Params;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let pair = wg.y;
  let o = wg.x * WG_SIZE + lid;
  var e = 0u;
  if (params.routed == 1u) {
    e = experts[pair] - params.first_expert; // wraps above part_experts when e < first_expert
  }
  if (e >= params.part_experts || o >= params.hidden) {
    return;
  }
  let words = params.inter / 4u;
  let w_row = (e * params.hidden + o) * words;
  let s_cols = (params.inter + BLOCK - 1u) / BLOCK;
  let s_row = (e * ((params.hidden + BLOCK - 1u) / BLOCK) + o / BLOCK) * s_cols;
  let h_row = pair * words;

  var acc = 0.0;
  for (var b = 0u; b < s_cols; b++) {
    let start = b * (BLOCK / 4u);
    let end = min(start + BLOCK / 4u, words);
    var block = vec4<f32>(0.0);
    for (var j = start; j < end; j++) {
      block += e4m3x4_to_vec4(down_w[w_row + j]) * h[h_row + j];
    }
    acc += down_s[s_row + b] * dot(block, vec4<f32>(1.0));
  }
  y[pair * params.hidden + o] = acc;
}
