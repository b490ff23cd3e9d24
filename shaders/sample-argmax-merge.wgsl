// sample-argmax-merge: stage 2 of the greedy pick: token[row] = the id of the best of the row's
// `groups` candidates from sample-argmax.wgsl (largest value, then lowest id).
// partial: [rows, groups, 2] u32 (f32 bits, id; id NONE for an empty span) · token: [rows] u32
// dispatch: (rows from first_row); threads strided over the candidates, one barrier, thread 0 reduces in thread order.
// reference: src/reference/sample.ts (argmaxToken)

override WG_SIZE: u32 = 64;
const NONE = 0xFFFFFFFFu;

struct Params {
  rows: u32,
  groups: u32,
  first_row: u32,  // workgroup x writes token[first_row + x]
}

@group(0) @binding(0) var<storage, read> partial: array<u32>;       // [rows, groups, 2]
@group(0) @binding(1) var<storage, read_write> token: array<u32>;   // [rows]
@group(0) @binding(2) var<uniform> params: Params;

var<workgroup> cand_value: array<f32, WG_SIZE>;
var<workgroup> cand_id: array<u32, WG_SIZE>;

fn beats(v: f32, i: u32, bv: f32, bi: u32) -> bool {
  return i != NONE && (bi == NONE || v > bv || (v == bv && i < bi));
}

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wg.x;
  var best = 0.0;
  var best_id = NONE;
  for (var g = lid; g < params.groups; g += WG_SIZE) {
    let at = (row * params.groups + g) * 2u;
    let v = bitcast<f32>(partial[at]);
    if (beats(v, partial[at + 1u], best, best_id)) {
      best = v;
      best_id = partial[at + 1u];
    }
  }
  cand_value[lid] = best;
  cand_id[lid] = best_id;
  workgroupBarrier();
  if (lid == 0u) {
    for (var t = 1u; t < WG_SIZE; t++) {
      if (beats(cand_value[t], cand_id[t], best, best_id)) {
        best = cand_value[t];
        best_id = cand_id[t];
      }
    }
    token[params.first_row + row] = best_id;
  }
}
