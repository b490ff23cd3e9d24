// Which pairs a tile of the grouped expert kernels (moe-gate-up-grouped, moe-down-grouped) works on
// (include-only; the including shader declares `group` and `params` with routed, first_expert, max_tiles).
// Routed: moe-group.wgsl's tile `tile` (its expert relative to the part, up to TILE pairs in expert order);
// otherwise tile t is units [t * TILE, t * TILE + TILE) of `units` on the part's expert 0 (the shared expert).
// Missing pairs repeat the first (computed, never stored); count 0: nothing to do.

const TILE = 4u;     // pairs per tile (moe-group.wgsl)

struct Tile {
  e: u32,            // expert relative to the part (wraps above part_experts when below first_expert)
  count: u32,
  pairs: vec4<u32>,
}

fn tile_pairs(tile: u32, units: u32) -> Tile {
  let lane = vec4<u32>(0u, 1u, 2u, 3u);
  if (params.routed == 1u) {
    if (tile >= group[0]) {
      return Tile(0u, 0u, vec4<u32>(0u));
    }
    let count = group[3u + 3u * tile];
    let order = 1u + 3u * params.max_tiles + group[2u + 3u * tile];
    let k = select(vec4<u32>(0u), lane, lane < vec4<u32>(count));
    let pairs = vec4<u32>(group[order + k.x], group[order + k.y], group[order + k.z], group[order + k.w]);
    return Tile(group[1u + 3u * tile] - params.first_expert, count, pairs);
  }
  let start = tile * TILE;
  let count = min(TILE, units - min(start, units));
  return Tile(0u, count, vec4<u32>(start) + select(vec4<u32>(0u), lane, lane < vec4<u32>(count)));
}
