// sample-draw: the token: the first kept id (order key >= the lowest kept key, from sample-filter.wgsl)
// whose cumulative mass exp(z - max z), in id order, exceeds random * the kept mass; the last kept id when
// rounding leaves the total short. Runs over the compacted candidates when every kept id is one of them,
// else over the whole row.
// logits: [rows, vocab] f32 · scratch: [4 + vocab] u32 (sample-filter's output) · token: [rows] u32
// (writes token[row])
// dispatch: 1 workgroup. Each thread's share of the ids is contiguous, so the per-thread kept masses in
// thread order are the cumulative mass in id order; thread 0 finds the thread whose share holds the
// draw, and that thread walks its share.
// reference: src/reference/sample.ts (drawToken)

#include "common/sample-key.wgsl"

override WG_SIZE: u32 = 64;
const NONE = 0xFFFFFFFFu;
const HEAD = 4u; // scratch words before the candidate ids

struct Params {
  vocab: u32,
  row: u32,
  inv_temperature: f32,
  random: f32,       // uniform in [0, 1)
}

@group(0) @binding(0) var<storage, read> logits: array<f32>;          // [rows, vocab]
@group(0) @binding(1) var<storage, read> scratch: array<u32>;         // [4 + vocab]
@group(0) @binding(2) var<storage, read_write> token: array<u32>;     // [rows]
@group(0) @binding(3) var<uniform> params: Params;

var<workgroup> part: array<f32, WG_SIZE>;  // per-thread kept mass
var<workgroup> owner: u32;
var<workgroup> owner_goal: f32;

fn z_at(i: u32) -> f32 {
  return logits[params.row * params.vocab + i] * params.inv_temperature;
}

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(local_invocation_index) lid: u32) {
  let max_z = float_of(scratch[0]);
  let lower = scratch[1];
  let listed = scratch[3] == 1u;
  let count = select(params.vocab, scratch[2], listed);
  let chunk = (count + WG_SIZE - 1u) / WG_SIZE;
  let begin = min(lid * chunk, count);
  let end = min(begin + chunk, count);
  var w = 0.0;
  for (var j = begin; j < end; j++) {
    let z = z_at(select(j, scratch[HEAD + j], listed));
    w += select(0.0, exp(z - max_z), key_of(z) >= lower);
  }
  part[lid] = w;
  workgroupBarrier();
  if (lid == 0u) {
    var total = 0.0;
    for (var t = 0u; t < WG_SIZE; t++) {
      total += part[t];
    }
    let goal = params.random * total;
    // The owner: the last thread with kept mass whose share starts at or below the goal (the max, mass
    // 1, is always kept, so there is one).
    var cum = 0.0;
    var start = 0.0;
    for (var t = 0u; t < WG_SIZE; t++) {
      if (part[t] > 0.0 && cum <= goal) {
        owner = t;
        start = cum;
      }
      cum += part[t];
    }
    owner_goal = goal - start;
  }
  workgroupBarrier();
  if (lid == owner) {
    var acc = 0.0;
    var pick = NONE;
    for (var j = begin; j < end; j++) {
      let i = select(j, scratch[HEAD + j], listed);
      let z = z_at(i);
      if (key_of(z) >= lower) {
        acc += exp(z - max_z);
        pick = i; // the last kept id so far: the fallback when rounding leaves acc <= owner_goal
        if (acc > owner_goal) {
          break;
        }
      }
    }
    token[params.row] = pick;
  }
}
