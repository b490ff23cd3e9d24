// swiglu: out[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + exp(-g)).
// gate, up, out: [n] f32 (n = rows * width of the MLP's intermediate activations)
// dispatch: grid2d over ceil(n / WG_SIZE) workgroups, one element per thread.
// reference: src/reference/swiglu.ts

override WG_SIZE: u32 = 256;

struct Params {
  n: u32,
  groups_x: u32,
}

@group(0) @binding(0) var<storage, read> gate: array<f32>;        // [n]
@group(0) @binding(1) var<storage, read> up: array<f32>;          // [n]
@group(0) @binding(2) var<storage, read_write> out: array<f32>;   // [n]
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wg.y * params.groups_x + wg.x) * WG_SIZE + lid;
  if (i >= params.n) {
    return;
  }
  let g = gate[i];
  // exp(-g) overflows to +inf for g < -88: g / inf = -0, the right limit.
  out[i] = g / (1.0 + exp(-g)) * up[i];
}
