// mla-absorb-v: the attention output per head, out of latent space (../shared/REFERENCE.md "MLA, written out"):
//   o[r, h*v_head + j] = Σ_c W_UV[h][j, c] o_lat[r, h, c]        (then o_proj, another kernel)
// o_lat: [rows, heads, kv_lora / 4] vec4 (mla-merge) · kv_b_proj: see common/mla-kv-b.wgsl · o: [rows, heads * v_head]
// dispatch: one thread per (head, 4 consecutive outputs j), linear over heads * ceil(v_head / 4), WG_SIZE per
// workgroup, wrapped into y past groups_x. The thread walks its 4 W_UV rows along kv_lora (vec4 of weights per row,
// decoded once) and applies them to 4 query rows at once (vec4 x mat4), so W_UV is read once per 4 rows.
// needs: kv_lora % 4 == 0 (checked in src/kernels/mla-absorb-v.ts); v_head is any size
// reference: src/reference/mla-absorbed.ts absorbValue
#include "common/fp8.wgsl"
#include "common/mla-kv-b.wgsl"

override WG_SIZE: u32 = 64;
override BLOCK_ROWS: u32 = 128; // FP8 scale block [rows, cols]
override BLOCK_COLS: u32 = 128;

struct Params {
  rows: u32,
  heads: u32,
  kv_lora: u32,
  nope: u32,          // qk_nope_head_dim (W_UV[h] starts nope rows into head h's block)
  v_head: u32,
  scale_cols: u32,    // ceil(kv_lora / BLOCK_COLS) (FP8 only)
  groups_x: u32,
}

@group(0) @binding(0) var<storage, read> o_lat: array<vec4<f32>>;         // [rows, heads, kv_lora / 4]
#if F32
@group(0) @binding(1) var<storage, read> w: array<vec4<f32>>;             // [heads * (nope + v_head), kv_lora / 4]
#else
@group(0) @binding(1) var<storage, read> w: array<u32>;                   // FP8 [.., kv_lora / 4] · BF16 [.., kv_lora / 2]
#endif
#if FP8
@group(0) @binding(2) var<storage, read> w_scale: array<f32>;             // [ceil(rows_w / BLOCK_ROWS), scale_cols]
#endif
@group(0) @binding(3) var<storage, read_write> o: array<f32>;             // [rows, heads * v_head]
@group(0) @binding(4) var<uniform> params: Params;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let v4 = (params.v_head + 3u) / 4u;
  let gid = (wg.y * params.groups_x + wg.x) * WG_SIZE + lid;
  if (gid >= params.heads * v4) {
    return;
  }
  let head = gid / v4;
  let j0 = 4u * (gid % v4);
  let kv4 = params.kv_lora / 4u;
  // W_UV rows j0 .. j0+3 of this head (past v_head: the last row again, never written).
  let first = head * (params.nope + params.v_head) + params.nope;
  let last_j = params.v_head - 1u;
  let w0 = first + j0;
  let w1 = first + min(j0 + 1u, last_j);
  let w2 = first + min(j0 + 2u, last_j);
  let w3 = first + min(j0 + 3u, last_j);
  let last = params.rows - 1u;
  let o_row = params.heads * params.v_head;

  for (var r0 = 0u; r0 < params.rows; r0 += 4u) {
    // Query rows r0 .. r0+3 (past the end: the last row again, never written).
    let x0 = (min(r0, last) * params.heads + head) * kv4;
    let x1 = (min(r0 + 1u, last) * params.heads + head) * kv4;
    let x2 = (min(r0 + 2u, last) * params.heads + head) * kv4;
    let x3 = (min(r0 + 3u, last) * params.heads + head) * kv4;
    var a0 = vec4<f32>(0.0); // row r0, outputs j0 .. j0+3
    var a1 = vec4<f32>(0.0);
    var a2 = vec4<f32>(0.0);
    var a3 = vec4<f32>(0.0);
    for (var c4 = 0u; c4 < kv4; c4++) {
      let wm = mat4x4<f32>(
        kv_b_load4(w0, c4, kv4, params.scale_cols),
        kv_b_load4(w1, c4, kv4, params.scale_cols),
        kv_b_load4(w2, c4, kv4, params.scale_cols),
        kv_b_load4(w3, c4, kv4, params.scale_cols),
      );
      a0 += o_lat[x0 + c4] * wm; // vec x mat: (o_lat · W_UV row j) for each of the 4 rows j
      a1 += o_lat[x1 + c4] * wm;
      a2 += o_lat[x2 + c4] * wm;
      a3 += o_lat[x3 + c4] * wm;
    }
    let acc = array<vec4<f32>, 4>(a0, a1, a2, a3);
    for (var k = 0u; k < 4u; k++) {
      if (r0 + k <= last) {
        let at = (r0 + k) * o_row + head * params.v_head + j0;
        for (var j = 0u; j < 4u; j++) {
          if (j0 + j <= last_j) { o[at + j] = acc[k][j]; }
        }
      }
    }
  }
}
