// mla-absorb-q: the absorbed query of every (row, head), laid out like a latent cache row:
//   q_abs[r, h] = [ W_UK[h]ᵀ q_nope[r, h] (kv_lora) ; rope(q_pe[r, h], row_pos[r]) (rope) ]
// so that score = q_abs[r, h] · cache[t] * softmax_scale in mla-decode (docs/conventions.md "MLA, written out").
// The rotary part is done here (q is read unrotated, straight from q_proj / q_b_proj), which saves a q-rope
// dispatch: nothing else reads the rotated q.
// q: [rows, heads, nope + rope] f32 · inv_freq: [rope/2] f32 (YaRN applied) · kv_b_proj: see common/mla-kv-b.wgsl
// q_abs: [rows, heads, (kv_lora + rope) / 4] vec4 · row_pos: [rows] u32 (the step's row map, src/kernels/row-map.ts)
// dispatch: one thread per (head, 4 consecutive q_abs columns), linear over heads * (kv_lora + rope) / 4, WG_SIZE
// per workgroup, wrapped into y past groups_x. A W_UK thread walks the nope rows of its 4 columns (the "transposed
// GEMV" layout: consecutive threads read consecutive weights) and applies each decoded weight vec4 to 4 query rows
// at once (single rows for the rest), so W_UK is read from memory once per dispatch and decoded ceil(rows / 4) times.
// A rope thread rotates 2 pairs for every row.
// needs: kv_lora % 4 == 0, rope % 4 == 0 (checked in src/kernels/mla-absorb-q.ts)
// reference: src/reference/mla-absorbed.ts absorbQuery (and rotatePairs for the rope part)
#include "common/fp8.wgsl"
#include "common/mla-kv-b.wgsl"
#include "common/rope.wgsl"

override WG_SIZE: u32 = 64;
override BLOCK_ROWS: u32 = 128; // FP8 scale block [rows, cols]
override BLOCK_COLS: u32 = 128;

struct Params {
  rows: u32,
  heads: u32,
  kv_lora: u32,
  nope: u32,          // qk_nope_head_dim
  rope: u32,          // qk_rope_head_dim
  v_head: u32,        // v_head_dim (kv_b_proj has nope + v_head rows per head)
  scale_cols: u32,    // ceil(kv_lora / BLOCK_COLS) (FP8 only)
  groups_x: u32,
  cos_sin_scale: f32,
}

@group(0) @binding(0) var<storage, read> q: array<f32>;                   // [rows, heads, nope + rope]
@group(0) @binding(1) var<storage, read> inv_freq: array<f32>;            // [rope / 2]
#if F32
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;             // [heads * (nope + v_head), kv_lora / 4]
#else
@group(0) @binding(2) var<storage, read> w: array<u32>;                   // FP8 [.., kv_lora / 4] · BF16 [.., kv_lora / 2]
#endif
#if FP8
@group(0) @binding(3) var<storage, read> w_scale: array<f32>;             // [ceil(rows_w / BLOCK_ROWS), scale_cols]
#endif
@group(0) @binding(4) var<storage, read_write> q_abs: array<vec4<f32>>;   // [rows, heads, (kv_lora + rope) / 4]
@group(0) @binding(5) var<storage, read> row_pos: array<u32>;             // [rows]
@group(0) @binding(6) var<uniform> params: Params;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let kv4 = params.kv_lora / 4u;
  let l4 = kv4 + params.rope / 4u;        // vec4s per q_abs (head) row
  let gid = (wg.y * params.groups_x + wg.x) * WG_SIZE + lid;
  if (gid >= params.heads * l4) {
    return;
  }
  let head = gid / l4;
  let c4 = gid % l4;
  let q_head = params.nope + params.rope;
  let q_row = params.heads * q_head;

  if (c4 >= kv4) {
    // Rotary part: q_pe elements 4j .. 4j+3 = pairs 2j, 2j+1, at position row_pos[r].
    let j = c4 - kv4;
    let f0 = inv_freq[2u * j];
    let f1 = inv_freq[2u * j + 1u];
    for (var r = 0u; r < params.rows; r++) {
      let at = r * q_row + head * q_head + params.nope + 4u * j;
      let pos = row_pos[r];
      let cs0 = rope_cos_sin(pos, f0) * params.cos_sin_scale;
      let cs1 = rope_cos_sin(pos, f1) * params.cos_sin_scale;
      let a = rotate_pair(vec2<f32>(q[at], q[at + 1u]), cs0);
      let b = rotate_pair(vec2<f32>(q[at + 2u], q[at + 3u]), cs1);
      q_abs[(r * params.heads + head) * l4 + c4] = vec4<f32>(a, b);
    }
    return;
  }

  // W_UK part: q_abs[r, head, 4*c4 .. 4*c4+3] = sum_i q_nope[r, head, i] * W_UK[head][i, 4*c4 ..], 4 rows at a
  // time while 4 are left (each decoded weight vec4 feeds 4 rows), then one at a time.
  let w_row0 = head * (params.nope + params.v_head);
  let q_at = head * q_head;
  let step = params.heads * l4; // one query row further in q_abs
  var r0 = 0u;
  for (; r0 + 4u <= params.rows; r0 += 4u) {
    let acc = absorb_4_rows(w_row0, c4, kv4, vec4<u32>(r0, r0 + 1u, r0 + 2u, r0 + 3u) * q_row + q_at);
    let out = (r0 * params.heads + head) * l4 + c4;
    q_abs[out] = acc[0];
    q_abs[out + step] = acc[1];
    q_abs[out + 2u * step] = acc[2];
    q_abs[out + 3u * step] = acc[3];
  }
  for (; r0 < params.rows; r0++) {
    q_abs[(r0 * params.heads + head) * l4 + c4] = absorb_1_row(w_row0, c4, kv4, r0 * q_row + q_at);
  }
}

// W_UK rows w_row0 .. w_row0 + nope - 1 go in runs that share one FP8 scale (BLOCK_ROWS rows; the thread's 4
// columns lie in one column block); each run's raw sum is scaled once.
fn run_end(i: u32, row: u32) -> u32 {
  return min(params.nope, i + BLOCK_ROWS - row % BLOCK_ROWS);
}

// Columns 4*c4 .. +3 of W_UKᵀ q_nope for the 4 query rows whose q_nope start at q_at.x .. q_at.w (result column k).
fn absorb_4_rows(w_row0: u32, c4: u32, kv4: u32, q_at: vec4<u32>) -> mat4x4<f32> {
  var acc = mat4x4<f32>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
  var i = 0u;
  while (i < params.nope) {
    let end = run_end(i, w_row0 + i);
    let scale = kv_b_scale(w_row0 + i, c4, params.scale_cols);
    var t0 = vec4<f32>(0.0);
    var t1 = vec4<f32>(0.0);
    var t2 = vec4<f32>(0.0);
    var t3 = vec4<f32>(0.0);
    for (; i < end; i++) {
      let wv = kv_b_raw4(w_row0 + i, c4, kv4);
      t0 += q[q_at.x + i] * wv;
      t1 += q[q_at.y + i] * wv;
      t2 += q[q_at.z + i] * wv;
      t3 += q[q_at.w + i] * wv;
    }
    acc += mat4x4<f32>(t0, t1, t2, t3) * scale;
  }
  return acc;
}

// The same for one query row (decode: no work for rows that are not there).
fn absorb_1_row(w_row0: u32, c4: u32, kv4: u32, q_at: u32) -> vec4<f32> {
  var acc = vec4<f32>(0.0);
  var i = 0u;
  while (i < params.nope) {
    let end = run_end(i, w_row0 + i);
    let scale = kv_b_scale(w_row0 + i, c4, params.scale_cols);
    var t = vec4<f32>(0.0);
    for (; i < end; i++) {
      t += q[q_at + i] * kv_b_raw4(w_row0 + i, c4, kv4);
    }
    acc += t * scale;
  }
  return acc;
}
