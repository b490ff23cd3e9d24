// sample-argmax: stage 1 of the greedy pick: each workgroup finds the largest logit of its span of one
// row and its id (ties: the lowest id), for sample-argmax-merge.wgsl to reduce.
// logits: [rows, vocab] f32 · partial: [rows, groups, 2] u32 (f32 bits of the value, id)
// dispatch: (groups, rows from first_row); workgroup g scans ids [g * span, (g + 1) * span), span = ceil(vocab / groups),
// threads strided; one barrier, then thread 0 reduces the workgroup's candidates in thread order.
// reference: src/reference/sample.ts (argmaxToken)

override WG_SIZE: u32 = 64;
const NONE = 0xFFFFFFFFu;

struct Params {
  rows: u32,
  vocab: u32,
  groups: u32,
  first_row: u32,  // workgroup row y handles logits row first_row + y
}

@group(0) @binding(0) var<storage, read> logits: array<f32>;        // [rows, vocab]
@group(0) @binding(1) var<storage, read_write> partial: array<u32>; // [rows, groups, 2]
@group(0) @binding(2) var<uniform> params: Params;

var<workgroup> cand_value: array<f32, WG_SIZE>;
var<workgroup> cand_id: array<u32, WG_SIZE>;

// (v, i) beats (bv, bi): larger value, or the same value at a lower id; anything beats no candidate.
// NaN never beats a candidate.
fn beats(v: f32, i: u32, bv: f32, bi: u32) -> bool {
  return i != NONE && (bi == NONE || v > bv || (v == bv && i < bi));
}

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wg.y;
  let span = (params.vocab + params.groups - 1u) / params.groups;
  let begin = min(wg.x * span, params.vocab);
  let end = min(begin + span, params.vocab);
  var best = 0.0;
  var best_id = NONE;
  // Ids rise along each thread's walk, so a strict > keeps the lowest id of equal values.
  for (var i = begin + lid; i < end; i += WG_SIZE) {
    let v = logits[(params.first_row + row) * params.vocab + i];
    if (best_id == NONE || v > best) {
      best = v;
      best_id = i;
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
    let at = (row * params.groups + wg.x) * 2u;
    partial[at] = bitcast<u32>(best);
    partial[at + 1u] = best_id;
  }
}
