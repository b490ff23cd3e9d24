// copy: dst = src, vec4 at a time — the bandwidth ceiling the benchmarks compare every kernel against.
// src, dst: [n] vec4<f32>
// dispatch: ceil(n / (WG_SIZE * PER_THREAD)) workgroups along x, wrapped into y past 65535;
// each thread copies PER_THREAD vec4s strided by WG_SIZE (coalesced within the workgroup).
// reference: a copy (kernels-test/copy.test.ts compares bit for bit)

override WG_SIZE: u32 = 256;
override PER_THREAD: u32 = 16;

struct Params {
  n: u32,        // vec4 count
  groups_x: u32, // workgroups per row of the grid
}

@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;        // [n]
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;  // [n]
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = wg.y * params.groups_x + wg.x;
  let base = group * WG_SIZE * PER_THREAD + lid;
  for (var i = 0u; i < PER_THREAD; i++) {
    let idx = base + i * WG_SIZE;
    if (idx < params.n) {
      dst[idx] = src[idx];
    }
  }
}
