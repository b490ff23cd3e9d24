// sample-filter: which tokens of one row of logits a sampling request keeps (temperature > 0):
// z = logits * inv_temperature; keep z >= the top_k-th largest z (ties kept); then, among those,
// z >= the largest t whose mass Σ exp(z - max) over z >= t reaches top_p of theirs; then
// z >= max + ln_min_p. Writes the max and the lowest kept order key for sample-draw.wgsl. The rules, with
// their tie and rounding conventions, are written out in src/reference/sample.ts.
// How, without a sort: (1) a range search: count (top-k) or mass (top-p) of max - z <= c for c = 1/4, 1,
// 4 .. 256 and everything in one pass; the smallest c reaching the goal holds the threshold;
// (2) the candidate ids are compacted, in id order, into `scratch`; (3) the exact threshold is found on
// the order key of z (common/sample-key.wgsl) by radix descent over the candidates, 4 bits per level,
// with per-thread 16-bin histograms in workgroup memory summed in thread order. Deterministic (no
// atomics); only the max, the range search and the compaction read the whole row.
// logits: [rows, vocab] f32 · scratch: [4 + vocab] u32: key(max z), lowest kept key, candidate count,
// 1 if every kept id is a candidate; then the candidate ids in id order
// dispatch: 1 workgroup; barrier-separated passes.
// reference: src/reference/sample.ts (keptTokens)

#include "common/sample-key.wgsl"

override WG_SIZE: u32 = 64;
const BINS = 16u;
const NONE = 0xFFFFFFFFu;
const HEAD = 4u; // scratch words before the candidate ids
// Distances below the max z tried by the range search: the last is everything (-inf included).
const CUTS_LO = vec4<f32>(0.25, 1.0, 4.0, 16.0);
const CUTS_HI = vec4<f32>(64.0, 256.0, 3.4e38, 3.4e38);

struct Params {
  vocab: u32,
  row: u32,
  inv_temperature: f32,
  top_k: u32,        // 0 or >= vocab: off
  top_p: f32,        // >= 1: off
  ln_min_p: f32,     // <= -1e38: off
}

@group(0) @binding(0) var<storage, read> logits: array<f32>;          // [rows, vocab]
@group(0) @binding(1) var<storage, read_write> scratch: array<u32>;   // [4 + vocab]
@group(0) @binding(2) var<uniform> params: Params;

var<workgroup> hist: array<f32, WG_SIZE * BINS>; // [thread, bin]: each thread's own histogram row
var<workgroup> bins: array<f32, BINS>;           // column sums, in thread order
var<workgroup> part: array<f32, WG_SIZE>;        // per-thread sums, reduced by thread 0 in thread order
var<workgroup> part_n: array<u32, WG_SIZE>;      // per-thread candidate counts -> compaction offsets
var<workgroup> shared_f: f32;                    // thread 0's results, broadcast
var<workgroup> shared_u: u32;

fn z_at(i: u32) -> f32 {
  return logits[params.row * params.vocab + i] * params.inv_temperature;
}

fn weight(z: f32, use_mass: bool, max_z: f32) -> f32 {
  return select(1.0, exp(z - max_z), use_mass);
}

fn sum_all(lid: u32, v: f32) -> f32 {
  part[lid] = v;
  workgroupBarrier();
  if (lid == 0u) {
    var s = 0.0;
    for (var t = 0u; t < WG_SIZE; t++) {
      s += part[t];
    }
    shared_f = s;
  }
  return workgroupUniformLoad(&shared_f);
}

// Thread lid's contiguous share [x, y) of n items: thread order is item order.
fn share(lid: u32, n: u32) -> vec2<u32> {
  let chunk = (n + WG_SIZE - 1u) / WG_SIZE;
  let begin = min(lid * chunk, n);
  return vec2<u32>(begin, min(begin + chunk, n));
}

// Steps (1) and (2): compacts the ids with key >= lower and max_z - z <= c into scratch for the smallest
// c whose weight reaches goal; returns how many.
fn gather(lid: u32, lower: u32, use_mass: bool, max_z: f32, goal: f32) -> u32 {
  let s = share(lid, params.vocab);
  // One pass weighs the candidates within each cut c of the max at once (hist is free here: [thread,
  // 0..7] weights, [thread, 8..15] counts).
  var w_lo = vec4<f32>(0.0);
  var w_hi = vec4<f32>(0.0);
  var n_lo = vec4<f32>(0.0);
  var n_hi = vec4<f32>(0.0);
  for (var i = s.x; i < s.y; i++) {
    let z = z_at(i);
    if (key_of(z) >= lower) {
      let d = vec4<f32>(min(max_z - z, 3.0e38)); // -inf: within the last cut
      let w = weight(z, use_mass, max_z);
      w_lo += select(vec4<f32>(0.0), vec4<f32>(w), d <= CUTS_LO);
      w_hi += select(vec4<f32>(0.0), vec4<f32>(w), d <= CUTS_HI);
      n_lo += select(vec4<f32>(0.0), vec4<f32>(1.0), d <= CUTS_LO);
      n_hi += select(vec4<f32>(0.0), vec4<f32>(1.0), d <= CUTS_HI);
    }
  }
  for (var q = 0u; q < 4u; q++) {
    hist[lid * BINS + q] = w_lo[q];
    hist[lid * BINS + 4u + q] = w_hi[q];
    hist[lid * BINS + 8u + q] = n_lo[q];
    hist[lid * BINS + 12u + q] = n_hi[q];
  }
  workgroupBarrier();
  if (lid == 0u) {
    // The smallest cut whose weight (summed in thread order) reaches the goal; the last is everything.
    var pick = 7u;
    for (var q = 7u; q > 0u; q--) {
      var total = 0.0;
      for (var t = 0u; t < WG_SIZE; t++) {
        total += hist[t * BINS + q - 1u];
      }
      if (total >= goal) {
        pick = q - 1u;
      }
    }
    // That cut's per-thread counts become compaction offsets, in thread order.
    var at = 0u;
    for (var t = 0u; t < WG_SIZE; t++) {
      part_n[t] = at;
      at += u32(hist[t * BINS + 8u + pick]);
    }
    shared_u = at;
    shared_f = select(CUTS_LO[pick & 3u], CUTS_HI[pick & 3u], pick >= 4u);
  }
  let total = workgroupUniformLoad(&shared_u);
  let cut = shared_f;
  var at = part_n[lid];
  for (var i = s.x; i < s.y; i++) {
    let z = z_at(i);
    if (key_of(z) >= lower && min(max_z - z, 3.0e38) <= cut) {
      scratch[HEAD + at] = i;
      at++;
    }
  }
  storageBarrier();
  return total;
}

// Step (3): the largest key t such that the weight of the candidates with key >= max(t, lower) reaches
// goal. At each of the 8 levels only candidates whose key agrees with the bits chosen so far are binned
// by their next 4 bits; `above` carries the weight of the bins above the chosen one.
fn threshold(lid: u32, len: u32, lower: u32, use_mass: bool, max_z: f32, goal: f32) -> u32 {
  var prefix = 0u;
  var above = 0.0;
  for (var level = 0u; level < 8u; level++) {
    let shift = 28u - 4u * level;
    for (var d = 0u; d < BINS; d++) {
      hist[lid * BINS + d] = 0.0;
    }
    for (var j = lid; j < len; j += WG_SIZE) {
      let z = z_at(scratch[HEAD + j]);
      let k = key_of(z);
      if (k >= lower && (level == 0u || (k >> (shift + 4u)) == (prefix >> (shift + 4u)))) {
        hist[lid * BINS + ((k >> shift) & (BINS - 1u))] += weight(z, use_mass, max_z);
      }
    }
    workgroupBarrier();
    if (lid < BINS) {
      var s = 0.0;
      for (var t = 0u; t < WG_SIZE; t++) {
        s += hist[t * BINS + lid];
      }
      bins[lid] = s;
    }
    workgroupBarrier();
    // Every thread walks the 16 bins from the top, identically.
    var chosen = NONE;
    var lowest = 0u;
    for (var d = BINS; d > 0u; d--) {
      if (bins[d - 1u] > 0.0) {
        lowest = d - 1u;
      }
      if (chosen == NONE) {
        if (above + bins[d - 1u] >= goal) {
          chosen = d - 1u;
        } else {
          above += bins[d - 1u];
        }
      }
    }
    // Rounding left the total below the goal: keep everything down to the lowest non-empty bin.
    prefix |= select(chosen, lowest, chosen == NONE) << shift;
  }
  return prefix;
}

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(local_invocation_index) lid: u32) {
  let n = params.vocab;
  let all = share(lid, n);
  var m = 0u;
  for (var i = all.x; i < all.y; i++) {
    m = max(m, key_of(z_at(i)));
  }
  part_n[lid] = m;
  workgroupBarrier();
  if (lid == 0u) {
    var best = 0u;
    for (var t = 0u; t < WG_SIZE; t++) {
      best = max(best, part_n[t]);
    }
    shared_u = best;
  }
  let max_z = float_of(workgroupUniformLoad(&shared_u));

  var lower = 0u;        // keep key(z) >= lower
  var len = 0u;          // candidates in scratch (when listed)
  var listed = false;    // every kept id is in scratch[0..len)
  if (params.top_k > 0u && params.top_k < n) {
    len = gather(lid, 0u, false, max_z, f32(params.top_k));
    listed = true;
    lower = threshold(lid, len, 0u, false, max_z, f32(params.top_k));
  }
  if (params.top_p < 1.0) {
    // The kept (top-k) mass, then the top-p goal in it.
    var w = 0.0;
    if (listed) {
      for (var j = lid; j < len; j += WG_SIZE) {
        let z = z_at(scratch[HEAD + j]);
        w += select(0.0, exp(z - max_z), key_of(z) >= lower);
      }
    } else {
      for (var i = all.x; i < all.y; i++) {
        w += exp(z_at(i) - max_z);
      }
    }
    let goal = params.top_p * sum_all(lid, w);
    if (!listed) {
      len = gather(lid, lower, true, max_z, goal);
      listed = true;
    }
    lower = max(lower, threshold(lid, len, lower, true, max_z, goal));
  }
  if (params.ln_min_p > -1.0e38) {
    lower = max(lower, key_of(max_z + params.ln_min_p));
  }

  if (lid == 0u) {
    scratch[0] = key_of(max_z);
    scratch[1] = lower;
    scratch[2] = len;
    scratch[3] = select(0u, 1u, listed);
  }
}
