// mla-absorb-v: the attention output per head, out of latent space (docs/conventions.md "MLA, written out"):
//   o[r, h*v_head + j] = Σ_c W_UV[h][j, c] o_lat[r, h, c]        (then o_proj, another kernel)
// o_lat: [rows, heads, kv_lora / 4] vec4 (mla-merge) · kv_b_proj: see common/mla-kv-b.wgsl · o: [rows, heads * v_head]
// dispatch: one thread per (head, 4 consecutive outputs j), linear over heads * ceil(v_head / 4), WG_SIZE per
// workgroup, wrapped into y past groups_x. The thread walks its 4 W_UV rows along kv_lora (vec4 of weights per row,
// decoded once) and applies them to 4 query rows at once (vec4 x mat4; single rows for the rest), so W_UV is read
// from memory once per dispatch and decoded ceil(rows / 4) times.
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
  let w_rows = vec4<u32>(w0, w1, w2, w3);
  let o_row = params.heads * params.v_head;
  var r0 = 0u;
  for (; r0 < params.rows; r0 += 4u) {
    // 4 query rows at a time while 4 are left (each decoded weight mat4 feeds 4 rows), then one at a time.
    let n = min(4u, params.rows - r0);
    var acc: mat4x4<f32>; // column k: query row r0 + k, outputs j0 .. j0+3
    if (n == 4u) {
      acc = absorb_4_rows(w_rows, kv4, (vec4<u32>(r0, r0 + 1u, r0 + 2u, r0 + 3u) * params.heads + head) * kv4);
    } else {
      for (var k = 0u; k < n; k++) {
        acc[k] = absorb_1_row(w_rows, kv4, ((r0 + k) * params.heads + head) * kv4);
      }
    }
    for (var k = 0u; k < n; k++) {
      let at = (r0 + k) * o_row + head * params.v_head + j0;
      for (var j = 0u; j < 4u; j++) {
        if (j0 + j <= last_j) { o[at + j] = acc[k][j]; }
      }
    }
  }
}

// Columns go in runs of one FP8 column block (BLOCK_COLS); each run's raw sums are scaled once, per W_UV row.
fn run_end(c4: u32, kv4: u32) -> u32 {
  return min(kv4, (c4 * 4u / BLOCK_COLS + 1u) * (BLOCK_COLS / 4u));
}

fn run_scales(w_rows: vec4<u32>, c4: u32) -> vec4<f32> {
  let sc = params.scale_cols;
  return vec4<f32>(kv_b_scale(w_rows.x, c4, sc), kv_b_scale(w_rows.y, c4, sc), kv_b_scale(w_rows.z, c4, sc), kv_b_scale(w_rows.w, c4, sc));
}

fn w_uv_4(w_rows: vec4<u32>, c4: u32, kv4: u32) -> mat4x4<f32> {
  return mat4x4<f32>(kv_b_raw4(w_rows.x, c4, kv4), kv_b_raw4(w_rows.y, c4, kv4), kv_b_raw4(w_rows.z, c4, kv4), kv_b_raw4(w_rows.w, c4, kv4));
}

// W_UV rows w_rows times the o_lat rows starting at x.x .. x.w (vec4 index); result column k = query row k.
fn absorb_4_rows(w_rows: vec4<u32>, kv4: u32, x: vec4<u32>) -> mat4x4<f32> {
  var acc = mat4x4<f32>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
  var c4 = 0u;
  while (c4 < kv4) {
    let end = run_end(c4, kv4);
    let scale = run_scales(w_rows, c4);
    var t0 = vec4<f32>(0.0);
    var t1 = vec4<f32>(0.0);
    var t2 = vec4<f32>(0.0);
    var t3 = vec4<f32>(0.0);
    for (; c4 < end; c4++) {
      let wm = w_uv_4(w_rows, c4, kv4);
      t0 += o_lat[x.x + c4] * wm; // vec x mat: (o_lat · W_UV row j) for each of the 4 rows j
      t1 += o_lat[x.y + c4] * wm;
      t2 += o_lat[x.z + c4] * wm;
      t3 += o_lat[x.w + c4] * wm;
    }
    acc += mat4x4<f32>(t0 * scale, t1 * scale, t2 * scale, t3 * scale);
  }
  return acc;
}

// The same for one query row (decode: no work for rows that are not there).
fn absorb_1_row(w_rows: vec4<u32>, kv4: u32, x: u32) -> vec4<f32> {
  var acc = vec4<f32>(0.0);
  var c4 = 0u;
  while (c4 < kv4) {
    let end = run_end(c4, kv4);
    let scale = run_scales(w_rows, c4);
    var t = vec4<f32>(0.0);
    for (; c4 < end; c4++) {
      t += o_lat[x + c4] * w_uv_4(w_rows, c4, kv4);
    }
    acc += t * scale;
  }
  return acc;
}
