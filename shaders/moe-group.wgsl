// moe-group: the prefill routes grouped by expert, so that each expert's weights are decoded once per tile
// of up to TILE (token, slot) pairs instead of once per pair (moe-gate-up-grouped, moe-down-grouped).
// order = the pair ids p = r * top_k + k sorted by expert, pair order kept within an expert (stable, so
// deterministic); the tiles cut each expert's run into pieces of at most TILE pairs, experts in order.
// experts: [pairs] u32 (moe-route's output) · group: [1 + 3 * max_tiles + pairs] u32 = the tile count,
// then (expert, first index into order, pair count) per tile, then order
// dispatch: 1 workgroup. Thread t counts and places the pairs of experts t, t + WG_SIZE, ... by scanning
// all pairs (O(experts * pairs / WG_SIZE), no atomics); thread 0 makes the offsets.
// needs: n_experts <= MAX_EXPERTS, max_tiles >= ceil(pairs / TILE) + min(n_experts, pairs) (the most tiles
// any routing can make; checked in src/kernels/moe-group.ts) · reference: src/reference/moe-experts.ts

override WG_SIZE: u32 = 64;
const TILE = 4u;            // pairs per tile: equals TILE in moe-gate-up-grouped.wgsl and moe-down-grouped.wgsl
const MAX_EXPERTS = 512u;

struct Params {
  pairs: u32,
  n_experts: u32,
  max_tiles: u32,
}

@group(0) @binding(0) var<storage, read> experts: array<u32>;       // [pairs]
@group(0) @binding(1) var<storage, read_write> group: array<u32>;   // [1 + 3 * max_tiles + pairs]
@group(0) @binding(2) var<uniform> params: Params;

var<workgroup> counts: array<u32, MAX_EXPERTS>;   // pairs per expert, then its first index into order
var<workgroup> tile_at: array<u32, MAX_EXPERTS>;  // each expert's first tile

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(local_invocation_index) lid: u32) {
  for (var e = lid; e < params.n_experts; e += WG_SIZE) {
    var n = 0u;
    for (var p = 0u; p < params.pairs; p++) {
      n += select(0u, 1u, experts[p] == e);
    }
    counts[e] = n;
  }
  workgroupBarrier();
  if (lid == 0u) {
    var at = 0u;
    var tiles = 0u;
    for (var e = 0u; e < params.n_experts; e++) {
      let n = counts[e];
      counts[e] = at;
      tile_at[e] = tiles;
      at += n;
      tiles += (n + TILE - 1u) / TILE;
    }
    group[0] = tiles;
  }
  workgroupBarrier();
  let order = 1u + 3u * params.max_tiles;
  for (var e = lid; e < params.n_experts; e += WG_SIZE) {
    let first = counts[e];
    var n = 0u;
    for (var p = 0u; p < params.pairs; p++) {
      if (experts[p] == e) {
        group[order + first + n] = p;
        n++;
      }
    }
    for (var t = 0u; t * TILE < n; t++) {
      let at = 1u + 3u * (tile_at[e] + t);
      group[at] = e;
      group[at + 1u] = first + t * TILE;
      group[at + 2u] = min(TILE, n - t * TILE);
    }
  }
}
