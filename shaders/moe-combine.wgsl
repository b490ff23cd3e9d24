// moe-combine: out[r, o] = base + Σ_k weights[r, k] * y[r, k, o], k = 0..slots-1 in order, where base is
// out[r, o] itself (accumulate 1: the shared expert's output already there) or 0. One thread owns each
// output element and adds the slots in a fixed order: deterministic, no float atomics, and the same order
// as the reference (shared first, then the routed experts best first).
// y: [rows, slots, hidden] f32 (moe-down's per-pair outputs) · weights: [rows, slots] f32 (moe-route) ·
// out: [rows, hidden] f32
// dispatch: grid2d over ceil(rows * hidden / WG_SIZE) workgroups, one element per thread.
// reference: src/reference/moe-experts.ts (moeForward)

override WG_SIZE: u32 = 256;

struct Params {
  rows: u32,
  slots: u32,
  hidden: u32,
  accumulate: u32,
  groups_x: u32,
}

@group(0) @binding(0) var<storage, read> y: array<f32>;             // [rows, slots, hidden]
@group(0) @binding(1) var<storage, read> weights: array<f32>;       // [rows, slots]
@group(0) @binding(2) var<storage, read_write> out: array<f32>;     // [rows, hidden]
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let idx = (wg.y * params.groups_x + wg.x) * WG_SIZE + lid;
  if (idx >= params.rows * params.hidden) {
    return;
  }
  let r = idx / params.hidden;
  let o = idx % params.hidden;
  var acc = select(0.0, out[idx], params.accumulate == 1u);
  for (var k = 0u; k < params.slots; k++) {
    let p = r * params.slots + k;
    acc += weights[p] * y[p * params.hidden + o];
  }
  out[idx] = acc;
}
