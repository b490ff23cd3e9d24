// rmsnorm: out[row, i] = x[row, i] / sqrt(mean_i(x[row, :]^2) + eps) * weight[i]
// x, out: [rows, dim] f32 · weight: [dim] f32 (BF16 norms are widened at load)
// dispatch: one workgroup per row; WG_SIZE threads stride over the row 4 elements at a time (the tail one at
// a time), then tree-reduce the sum of squares in workgroup memory.
// WG_SIZE 4 (one SwiftShader subgroup): a barrier there costs ~25 µs per 4-lane subgroup of the workgroup,
// so WG_SIZE 256 made a 256-wide row take 270 µs, against 33 µs (of which ~20 µs is the dispatch) at 4.
// reference: src/reference/rmsnorm.ts

override WG_SIZE: u32 = 4;

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

fn x4(i: u32) -> vec4<f32> {
  return vec4<f32>(x[i], x[i + 1u], x[i + 2u], x[i + 3u]);
}

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wg.x;
  let base = row * params.dim;
  let quads = params.dim / 4u;  // elements 4 * quads.. are the tail
  var ss4 = vec4<f32>(0.0);
  for (var j = lid; j < quads; j += WG_SIZE) {
    let v = x4(base + 4u * j);
    ss4 += v * v;
  }
  var ss = (ss4.x + ss4.y) + (ss4.z + ss4.w);
  for (var i = 4u * quads + lid; i < params.dim; i += WG_SIZE) {
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
  for (var j = lid; j < quads; j += WG_SIZE) {
    let i = 4u * j;
    let v = x4(base + i) * inv * vec4<f32>(weight[i], weight[i + 1u], weight[i + 2u], weight[i + 3u]);
    out[base + i] = v.x;
    out[base + i + 1u] = v.y;
    out[base + i + 2u] = v.z;
    out[base + i + 3u] = v.w;
  }
  for (var i = 4u * quads + lid; i < params.dim; i += WG_SIZE) {
    out[base + i] = x[base + i] * inv * weight[i];
  }
}
