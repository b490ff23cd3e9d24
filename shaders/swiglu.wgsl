// swiglu: out[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + exp(-g)).
// gate_up: [rows, 2 * width] — each row holds gate (first width values) then up, as one matmul over the
// concatenated [gate_proj ; up_proj] weight produces it · out: [rows, width]
// dispatch: grid2d over ceil(rows * width / WG_SIZE) workgroups, one element per thread.
// reference: src/reference/swiglu.ts

override WG_SIZE: u32 = 256;

struct Params {
  rows: u32,
  width: u32,
  groups_x: u32,
}

@group(0) @binding(0) var<storage, read> gate_up: array<f32>;     // [rows, 2 * width]
@group(0) @binding(1) var<storage, read_write> out: array<f32>;   // [rows, width]
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wg.y * params.groups_x + wg.x) * WG_SIZE + lid;
  if (i >= params.rows * params.width) {
    return;
  }
  let row = i / params.width;
  let col = i % params.width;
  let g = gate_up[row * 2u * params.width + col];
  let u = gate_up[row * 2u * params.width + params.width + col];
  // exp(-g) overflows to +inf for g < -88: g / inf = -0, the right limit.
  out[i] = g / (1.0 + exp(-g)) * u;
}
