// moe-route: for each token choose TOP_K of N_EXPERTS routed experts and their weights from the router
// logits, in one of the three flavours of docs/conventions.md "Routing":
//   METHOD 0 greedy:               top-k of the scores s
//   METHOD 1 group_limited_greedy: keep the TOPK_GROUP groups with the largest max s, top-k inside them
//   METHOD 2 noaux_tc:             c = s + bias; group score = sum of the group's top-2 c; keep TOPK_GROUP
//                                  groups, top-k of c inside them; weights from s (never the bias)
// s = softmax(logits) (SIGMOID 0) or sigmoid(logits) (SIGMOID 1). Weights = s of the chosen experts,
// divided by their sum when NORMALISE, then times params.scale (the wrapper folds V2/V3's rule for
// routed_scaling_factor into it). Order: best first; ties go to the lower expert (and group) index.
// logits: [rows, N_EXPERTS] f32 (x · gateᵀ, from the matmul kernel) · bias: [N_EXPERTS] f32
// (e_score_correction_bias; read only when HAS_BIAS) · experts: [rows, TOP_K] u32 · weights: [rows, TOP_K] f32
// dispatch: ceil(rows / WG_SIZE) workgroups, one thread per token (no barriers, nothing shared).
// needs: TOP_K <= MAX_TOP_K, N_GROUP <= MAX_GROUPS, N_EXPERTS % N_GROUP == 0 (checked in src/kernels/moe-route.ts)
// reference: src/reference/moe-route.ts (routeToken)

override WG_SIZE: u32 = 64;
override N_EXPERTS: u32 = 256;
override TOP_K: u32 = 8;
override N_GROUP: u32 = 1;
override TOPK_GROUP: u32 = 1;
override METHOD: u32 = 0;
override SIGMOID: u32 = 0;
override NORMALISE: u32 = 0;
override HAS_BIAS: u32 = 0;

const MAX_TOP_K = 16u;
const MAX_GROUPS = 32u;

struct Params {
  rows: u32,
  scale: f32,
}

@group(0) @binding(0) var<storage, read> logits: array<f32>;          // [rows, N_EXPERTS]
@group(0) @binding(1) var<storage, read> bias: array<f32>;            // [N_EXPERTS] (HAS_BIAS)
@group(0) @binding(2) var<storage, read_write> experts: array<u32>;   // [rows, TOP_K]
@group(0) @binding(3) var<storage, read_write> weights: array<f32>;   // [rows, TOP_K]
@group(0) @binding(4) var<uniform> params: Params;

// Softmax statistics of the row (max, sum of exp(l - max)); unused for sigmoid.
var<private> row_max: f32;
var<private> row_sum: f32;

fn score(l: f32) -> f32 {
  if (SIGMOID == 1u) {
    return 1.0 / (1.0 + exp(-l)); // exp(-l) = +inf for l < -88 gives 0, the limit
  }
  return exp(l - row_max) / row_sum;
}

// The value experts are chosen by. Without noaux_tc that is s, and s is a strictly increasing function of
// the logit (for both scorings), so the logit itself orders the experts exactly as the float64 reference's
// s does: no f32 rounding of exp can merge or swap two choices.
fn choice_key(base: u32, e: u32) -> f32 {
  let l = logits[base + e];
  if (METHOD != 2u) {
    return l;
  }
  var c = score(l);
  if (HAS_BIAS == 1u) {
    c += bias[e];
  }
  return c;
}

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row = gid.x;
  if (row >= params.rows) {
    return;
  }
  let base = row * N_EXPERTS;

  if (SIGMOID == 0u) {
    var m = logits[base];
    for (var e = 1u; e < N_EXPERTS; e++) {
      m = max(m, logits[base + e]);
    }
    row_max = m;
    // Blocks of 16 keep the f32 sum's rounding ~4x below a plain running sum over 256 terms.
    var total = 0.0;
    var block = 0.0;
    for (var e = 0u; e < N_EXPERTS; e++) {
      block += exp(logits[base + e] - m);
      if ((e & 15u) == 15u) {
        total += block;
        block = 0.0;
      }
    }
    row_sum = total + block;
  }

  // Group limit: a bit per kept group.
  var kept = 0xFFFFFFFFu;
  let group_size = N_EXPERTS / N_GROUP;
  if (METHOD != 0u && N_GROUP > 1u) {
    var group_score: array<f32, MAX_GROUPS>;
    for (var g = 0u; g < N_GROUP; g++) {
      var top1 = -3.0e38;
      var top2 = -3.0e38;
      for (var j = 0u; j < group_size; j++) {
        let c = choice_key(base, g * group_size + j);
        if (c > top1) {
          top2 = top1;
          top1 = c;
        } else if (c > top2) {
          top2 = c;
        }
      }
      group_score[g] = select(top1, top1 + top2, METHOD == 2u);
    }
    kept = 0u;
    for (var j = 0u; j < TOPK_GROUP; j++) {
      // The best group not yet kept; strict > keeps the lower index on ties.
      var best = N_GROUP;
      for (var g = 0u; g < N_GROUP; g++) {
        if ((kept & (1u << g)) == 0u && (best == N_GROUP || group_score[g] > group_score[best])) {
          best = g;
        }
      }
      kept |= 1u << best;
    }
  }

  // Top-k by insertion into a list sorted best first. Experts arrive in index order, so an expert only
  // passes one with an equal key if it is strictly greater: ties stay with the lower index.
  var sel_key: array<f32, MAX_TOP_K>;
  var sel_idx: array<u32, MAX_TOP_K>;
  var count = 0u;
  for (var e = 0u; e < N_EXPERTS; e++) {
    if ((kept & (1u << (e / group_size))) == 0u) {
      continue;
    }
    let c = choice_key(base, e);
    if (count == TOP_K && !(c > sel_key[TOP_K - 1u])) {
      continue;
    }
    var pos = min(count, TOP_K - 1u);
    while (pos > 0u && sel_key[pos - 1u] < c) {
      sel_key[pos] = sel_key[pos - 1u];
      sel_idx[pos] = sel_idx[pos - 1u];
      pos--;
    }
    sel_key[pos] = c;
    sel_idx[pos] = e;
    count = min(count + 1u, TOP_K);
  }

  var w: array<f32, MAX_TOP_K>;
  var sum = 0.0;
  for (var k = 0u; k < TOP_K; k++) {
    w[k] = score(logits[base + sel_idx[k]]);
    sum += w[k];
  }
  for (var k = 0u; k < TOP_K; k++) {
    let v = select(w[k], w[k] / sum, NORMALISE == 1u);
    experts[row * TOP_K + k] = sel_idx[k];
    weights[row * TOP_K + k] = v * params.scale;
  }
}
