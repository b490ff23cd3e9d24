// rmsnorm: out[row, i] = x[row, i] / sqrt(mean_i(x[row, :]^2) + eps) * weight[i]
// x, out: [rows, dim] f32 · weight: [dim] f32 (BF16 norms are widened at load)
// dispatch: one workgroup per row; WG_SIZE threads stride over the row, tree-reduce the sum of squares.
// reference: src/reference/rmsnorm.ts

override WG_SIZE: u32 = 256;

struct Params {
  rows: u32,
  dim: u32,
  eps: f32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;            // [rows, dim]
@group(0) @binding(1) var<storage, read> weight: array<f32>;       // [dim]
@group(0) @binding(2) var<storage, read_write> out: array<f32>;    // [rows, dim]
@group(0) @binding(3) var<uniform> params: Params;

var<workgroup> partial: array<f32, WG_SIZE>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wg.x;
  let base = row * params.dim;
  var ss = 0.0;
  for (var i = lid; i < params.dim; i += WG_SIZE) {
    let v = x[base + i];
    ss += v * v;
  }
  partial[lid] = ss;
  workgroupBarrier();
  for (var stride = WG_SIZE / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      partial[lid] += partial[lid + stride];
    }
    workgroupBarrier();
  }
  let inv = inverseSqrt(partial[0] / f32(params.dim) + params.eps);
  for (var i = lid; i < params.dim; i += WG_SIZE) {
    out[base + i] = x[base + i] * inv * weight[i];
  }
}
