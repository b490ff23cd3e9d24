// residual-add: h[i] += delta[i] (the residual stream update after attention and MLP blocks).
// h, delta: [n] f32 · dispatch: grid2d over ceil(n / WG_SIZE) workgroups, one element per thread.
// reference: elementwise addition (kernels-test/residual-add.test.ts)

override WG_SIZE: u32 = 256;

struct Params {
  n: u32,
  groups_x: u32,
}

@group(0) @binding(0) var<storage, read> delta: array<f32>;     // [n]
@group(0) @binding(1) var<storage, read_write> h: array<f32>;   // [n], updated in place
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wg.y * params.groups_x + wg.x) * WG_SIZE + lid;
  if (i < params.n) {
    h[i] = h[i] + delta[i];
  }
}
