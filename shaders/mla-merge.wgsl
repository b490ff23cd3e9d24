// mla-merge: combines mla-decode's splits (log-sum-exp merge) into the attention output in latent space:
//   M = max_s m[n, s],  w_s = exp(m[n, s] - M),  o_lat[n] = Σ_s w_s o_part[n, s] / Σ_s w_s l[n, s]
// Splits a query vector cannot see carry m = NEG, l = 0 and drop out (w_s = 0); split 0 always holds cache row 0,
// which every query sees, so the denominator is >= 1.
// o_part: [nq, splits, kv_lora / 4] vec4 · ml: [nq, splits] (m, l) · o_lat: [nq, kv_lora / 4] vec4 (nq = rows * heads)
// dispatch: one thread per output vec4, linear over nq * kv_lora / 4, WG_SIZE per workgroup, wrapped into y past
// groups_x; each thread reads its query vector's (m, l) pairs twice (splits is small) and one vec4 per split.
// reference: src/reference/mla-absorbed.ts latentAttention (with mla-decode)

override WG_SIZE: u32 = 64;

struct Params {
  nq: u32,        // rows * heads
  kv_lora: u32,
  splits: u32,
  groups_x: u32,
}

@group(0) @binding(0) var<storage, read> o_part: array<vec4<f32>>;        // [nq, splits, kv_lora / 4]
@group(0) @binding(1) var<storage, read> ml: array<vec2<f32>>;            // [nq, splits]
@group(0) @binding(2) var<storage, read_write> o_lat: array<vec4<f32>>;   // [nq, kv_lora / 4]
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let kv4 = params.kv_lora / 4u;
  let gid = (wg.y * params.groups_x + wg.x) * WG_SIZE + lid;
  if (gid >= params.nq * kv4) {
    return;
  }
  let qv = gid / kv4;
  let c4 = gid % kv4;
  let first = qv * params.splits;
  var m = ml[first].x;
  for (var s = 1u; s < params.splits; s++) {
    m = max(m, ml[first + s].x);
  }
  var num = vec4<f32>(0.0);
  var den = 0.0;
  for (var s = 0u; s < params.splits; s++) {
    let e = ml[first + s];
    let w = exp(e.x - m);
    den += w * e.y;
    num += w * o_part[(first + s) * kv4 + c4];
  }
  o_lat[gid] = num / den;
}
