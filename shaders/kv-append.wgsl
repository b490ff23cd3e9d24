// kv-append: writes new rows into a layer's paged latent cache from kv_a_proj_with_mqa's output
// (docs/conventions.md "MLA, written out"). For row r at position row_pos[r], pool row s = row_slot[r], x = kv_a[r]:
//   cache[s, :kv_lora] = x[:kv_lora] / sqrt(mean(x[:kv_lora]^2) + eps) * norm_w     (kv_a_layernorm)
//   cache[s, kv_lora:] = rope(x[kv_lora:], row_pos[r])                              (k_pe, shared by all heads)
// kv_a: [rows, kv_lora + rope] f32 (before the norm) · norm_w: [kv_lora] f32 · inv_freq: [rope / 2] f32
// row_pos, row_slot: [rows] u32 (the step's row map, src/kernels/row-map.ts)
// cache: [cache_rows, kv_lora + rope] f32 (the layer's page pool), c_kv first then k_pe
// dispatch: one workgroup per row; WG_SIZE threads stride over the row, tree-reduce the sum of squares in
// workgroup memory, then thread i rotates pairs i, i + WG_SIZE, ... (WG_SIZE 4 by default: one SwiftShader
// subgroup, whose barriers are nearly free; each extra 4-lane subgroup makes every barrier ~25 µs dearer)
// needs: rope even (checked in src/kernels/kv-append.ts); positions < 2^24 and slots < cache_rows (rowMapData)
// reference: src/reference/mla.ts mlaLatents (rmsnorm + rotatePairs)
#include "common/rope.wgsl"

override WG_SIZE: u32 = 4;

struct Params {
  rows: u32,
  kv_lora: u32,
  rope: u32,
  cache_rows: u32,     // rows of the page pool (the host checks the slots against it)
  eps: f32,
  cos_sin_scale: f32,
}

@group(0) @binding(0) var<storage, read> kv_a: array<f32>;           // [rows, kv_lora + rope]
@group(0) @binding(1) var<storage, read> norm_w: array<f32>;         // [kv_lora]
@group(0) @binding(2) var<storage, read> inv_freq: array<f32>;       // [rope / 2]
@group(0) @binding(3) var<storage, read> row_pos: array<u32>;        // [rows]
@group(0) @binding(4) var<storage, read> row_slot: array<u32>;       // [rows]
@group(0) @binding(5) var<storage, read_write> cache: array<f32>;    // [cache_rows, kv_lora + rope]
@group(0) @binding(6) var<uniform> params: Params;

var<workgroup> partial: array<f32, WG_SIZE>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wg.x;
  let latent = params.kv_lora + params.rope;
  let src = row * latent;
  let dst = row_slot[row] * latent;
  var ss = 0.0;
  for (var i = lid; i < params.kv_lora; i += WG_SIZE) {
    let v = kv_a[src + i];
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
  let inv = 1.0 / sqrt(partial[0] / f32(params.kv_lora) + params.eps); // sqrt is exact; inverseSqrt may not be
  for (var i = lid; i < params.kv_lora; i += WG_SIZE) {
    cache[dst + i] = kv_a[src + i] * inv * norm_w[i];
  }
  let pos = row_pos[row];
  for (var i = lid; i < params.rope / 2u; i += WG_SIZE) {
    let at = params.kv_lora + 2u * i;
    let cs = rope_cos_sin(pos, inv_freq[i]) * params.cos_sin_scale;
    let v = rotate_pair(vec2<f32>(kv_a[src + at], kv_a[src + at + 1u]), cs);
    cache[dst + at] = v.x;
    cache[dst + at + 1u] = v.y;
  }
}
