// mla-decode: causal attention over the paged latent cache, absorbed form, one split of the sequence per
// workgroup (flash-decoding; mla-merge combines the splits). The step's rows come in segments, one per sequence
// (src/kernels/row-map.ts): segment g holds rows first_row .. first_row + rows - 1 at positions first_pos.., and
// its cache row t lives in pool row pages[table_at + t / P] * P + t % P (P = 2^page_shift rows per page).
// For query vector n = r * heads + h (row r of segment g, at position p = first_pos + r - first_row, which sees
// cache rows 0 .. p) and split s (cache rows s*chunk .. s*chunk + chunk):
//   score[n, t] = q_abs[n] · cache[t] * scale              (q_abs = [W_UKᵀ q_nope ; q_pe], cache = [c_kv ; k_pe])
//   m[n, s] = max_t score,  l[n, s] = Σ_t exp(score - m),  o_part[n, s] = Σ_t exp(score - m) c_kv[t]
// A split with no visible row writes m = NEG, l = 0, o_part = 0. (docs/conventions.md "MLA, written out")
// With normalize == 1 (only for splits == 1) o_part gets o / l, the attention output itself: mla-merge's
// result for one split (it would divide by 1 * l), so the caller binds o_lat as o_part and skips the merge.
// q_abs: [rows * heads, (kv_lora + rope) / 4] vec4 · cache: [pool rows, (kv_lora + rope) / 4] vec4
// o_part: [rows * heads, splits, kv_lora / 4] vec4 · ml: [rows * heads, splits] (m, l)
// segments: [seg_count] Segment · pages: the page table, u32
// dispatch: one workgroup per (block, split), linear index qb * splits + s wrapped into y past groups_x. A block is
// 4 query vectors of one segment (segment g's blocks are first_block .. first_block + ceil(rows * heads / 4) - 1),
// so the 4 share the segment's keys; the workgroup finds its segment by a scan (a step has few).
// The split is walked in tiles of TILE = 4 * WG_SIZE cache rows, with an online softmax across tiles:
//   1. scores: thread i takes rows 4i .. 4i+3 of the tile for all 4 query vectors (16 dot products, vec4 x mat4
//      over the whole latent row; reads are straight from storage, no workgroup memory in the loop) and leaves
//      their pool rows in workgroup memory for step 3;
//   2. tile max over the workgroup (one barrier), weights exp(score - m) written back (one barrier);
//   3. o: thread i owns o columns 8i .. 8i+7 for the 4 query vectors (8 vec4 accumulators) and walks the tile.
// Three barriers per tile of 4 * WG_SIZE rows, none inside a loop over the latent dimension. A barrier costs
// ~25 µs per 4-lane subgroup of the workgroup on SwiftShader, so the wrapper takes the smallest WG_SIZE that
// covers kv_lora (8 for kv_lora 64: 94 µs against 500 µs at 64, for 32 cached rows).
// needs: kv_lora % 4 == 0, rope % 4 == 0, kv_lora <= 8 * WG_SIZE, chunk * splits >= every segment's
// first_pos + rows (checked in src/kernels/mla-decode.ts); the page table covering every segment's rows
// (the paged cache's to guarantee) · reference: src/reference/mla-absorbed.ts latentAttention

override WG_SIZE: u32 = 64;
const NEG: f32 = -3.0e38; // a masked score; exp(NEG - m) == 0 for any real m

struct Params {
  rows: u32,
  heads: u32,
  kv_lora: u32,
  rope: u32,
  seg_count: u32,     // segments (sequences) in the step
  blocks: u32,        // 4-query-vector blocks over all segments
  page_shift: u32,    // log2 of the rows per page
  splits: u32,
  chunk: u32,         // cache rows per split
  groups_x: u32,
  scale: f32,         // softmax_scale
  normalize: u32,     // 1: o_part = o / l (splits == 1, no merge follows)
}

@group(0) @binding(0) var<storage, read> q_abs: array<vec4<f32>>;          // [rows * heads, (kv_lora + rope) / 4]
@group(0) @binding(1) var<storage, read> cache: array<vec4<f32>>;          // [max_seq, (kv_lora + rope) / 4]
@group(0) @binding(2) var<storage, read_write> o_part: array<vec4<f32>>;   // [rows * heads, splits, kv_lora / 4]
@group(0) @binding(3) var<storage, read_write> ml: array<vec2<f32>>;       // [rows * heads, splits]
@group(0) @binding(4) var<storage, read> segments: array<Segment>;       // [seg_count]
@group(0) @binding(5) var<storage, read> pages: array<u32>;                // page table entries
@group(0) @binding(6) var<uniform> params: Params;

struct Segment {
  first_row: u32,
  rows: u32,
  first_pos: u32,     // position of the segment's first row; its cache holds rows 0 .. first_pos + rows - 1
  table_at: u32,      // the sequence's first page table entry
  first_block: u32,   // the segment's first block
  pad0: u32,
  pad1: u32,
  pad2: u32,
}

// Tile scores, then weights, per cache row of the tile; .x .. .w are the 4 query vectors.
var<workgroup> tile_p: array<vec4<f32>, 4 * WG_SIZE>;
var<workgroup> tile_max: array<vec4<f32>, WG_SIZE>;
// The pool row (times l4) of each cache row of the tile, found in step 1, walked in step 3.
var<workgroup> tile_at: array<u32, 4 * WG_SIZE>;

/** The pool row of cache row `t` of the sequence whose page table starts at entry `table_at`. */
fn pool_row(table_at: u32, t: u32) -> u32 {
  return (pages[table_at + (t >> params.page_shift)] << params.page_shift) | (t & ((1u << params.page_shift) - 1u));
}

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let lin = wg.y * params.groups_x + wg.x;
  let split = lin % params.splits;
  let qb = lin / params.splits;
  if (qb >= params.blocks) {
    return; // past the grid's end: the whole workgroup leaves
  }
  var g = 0u; // the block's segment: the last whose first block is <= qb
  for (var i = 1u; i < params.seg_count; i++) {
    if (segments[i].first_block <= qb) { g = i; }
  }
  let seg = segments[g];
  let nq = seg.rows * params.heads;    // the segment's query vectors
  let qb_local = qb - seg.first_block;
  let q_first = seg.first_row * params.heads;
  let l4 = (params.kv_lora + params.rope) / 4u;
  let kv4 = params.kv_lora / 4u;
  // The 4 query vectors of the segment (clamped: a partial last block repeats its last one and does not write
  // it) and the last cache row each may see.
  let qn = min(vec4<u32>(qb_local * 4u) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(nq - 1u));
  let seen = vec4<u32>(seg.first_pos) + qn / vec4<u32>(params.heads);
  let q_at = (vec4<u32>(q_first) + qn) * l4;
  let t_begin = split * params.chunk;
  let t_end = min(min(t_begin + params.chunk, seg.first_pos + seg.rows), seen.w + 1u);

  var m_run = vec4<f32>(NEG);
  var l_run = vec4<f32>(0.0);
  var o0a = vec4<f32>(0.0); var o0b = vec4<f32>(0.0);   // query vector .x, columns 8*lid .. +3 and +4 .. +7
  var o1a = vec4<f32>(0.0); var o1b = vec4<f32>(0.0);
  var o2a = vec4<f32>(0.0); var o2b = vec4<f32>(0.0);
  var o3a = vec4<f32>(0.0); var o3b = vec4<f32>(0.0);
  let col = 2u * lid;                                     // first owned o column, in vec4s

  for (var t0 = t_begin; t0 < t_end; t0 += 4u * WG_SIZE) {
    // 1. Scores of cache rows t0 + 4*lid + j (j = 0..3; rows past t_end read the last one and are masked).
    let tok = vec4<u32>(t0 + 4u * lid) + vec4<u32>(0u, 1u, 2u, 3u);
    let last = vec4<u32>(t_end - 1u);
    let t_in = min(tok, last);
    let k_at = vec4<u32>(pool_row(seg.table_at, t_in.x), pool_row(seg.table_at, t_in.y), pool_row(seg.table_at, t_in.z), pool_row(seg.table_at, t_in.w)) * l4;
    tile_at[4u * lid] = k_at.x;
    tile_at[4u * lid + 1u] = k_at.y;
    tile_at[4u * lid + 2u] = k_at.z;
    tile_at[4u * lid + 3u] = k_at.w;
    var s0 = vec4<f32>(0.0); // query vector .x against the 4 rows
    var s1 = vec4<f32>(0.0);
    var s2 = vec4<f32>(0.0);
    var s3 = vec4<f32>(0.0);
    for (var c = 0u; c < l4; c++) {
      let k = mat4x4<f32>(cache[k_at.x + c], cache[k_at.y + c], cache[k_at.z + c], cache[k_at.w + c]);
      s0 += q_abs[q_at.x + c] * k; // vec x mat: (q · row j) for each column j
      s1 += q_abs[q_at.y + c] * k;
      s2 += q_abs[q_at.z + c] * k;
      s3 += q_abs[q_at.w + c] * k;
    }
    let in_split = tok < vec4<u32>(t_end);
    s0 = select(vec4<f32>(NEG), s0 * params.scale, in_split & (tok <= vec4<u32>(seen.x)));
    s1 = select(vec4<f32>(NEG), s1 * params.scale, in_split & (tok <= vec4<u32>(seen.y)));
    s2 = select(vec4<f32>(NEG), s2 * params.scale, in_split & (tok <= vec4<u32>(seen.z)));
    s3 = select(vec4<f32>(NEG), s3 * params.scale, in_split & (tok <= vec4<u32>(seen.w)));
    let by_row = transpose(mat4x4<f32>(s0, s1, s2, s3)); // by_row[j] = the 4 query vectors' scores of row j
    tile_max[lid] = max(max(by_row[0], by_row[1]), max(by_row[2], by_row[3]));
    workgroupBarrier();

    // 2. Running max; this thread's 16 weights (masked ones exactly 0) go to workgroup memory.
    var m_tile = tile_max[0];
    for (var i = 1u; i < WG_SIZE; i++) {
      m_tile = max(m_tile, tile_max[i]);
    }
    let m_new = max(m_run, m_tile);
    let alpha = exp(m_run - m_new); // 1 while both are NEG (nothing accumulated yet)
    m_run = m_new;
    for (var j = 0u; j < 4u; j++) {
      tile_p[4u * lid + j] = select(vec4<f32>(0.0), exp(by_row[j] - m_new), by_row[j] > vec4<f32>(NEG));
    }
    workgroupBarrier();

    // 3. Rescale, then accumulate the weighted c_kv rows of the tile into this thread's columns.
    l_run *= alpha;
    o0a *= alpha.x; o0b *= alpha.x;
    o1a *= alpha.y; o1b *= alpha.y;
    o2a *= alpha.z; o2b *= alpha.z;
    o3a *= alpha.w; o3b *= alpha.w;
    let tile_rows = min(4u * WG_SIZE, t_end - t0);
    if (col < kv4) { // (thread 0 always is: it carries l_run to the output)
      for (var j = 0u; j < tile_rows; j++) {
        let p = tile_p[j];
        let at = tile_at[j] + col;
        let va = cache[at];
        let vb = cache[at + 1u]; // past kv_lora (odd kv4) this is k_pe: in bounds, never written out
        l_run += p;
        o0a += p.x * va; o0b += p.x * vb;
        o1a += p.y * va; o1b += p.y * vb;
        o2a += p.z * va; o2b += p.z * vb;
        o3a += p.w * va; o3b += p.w * vb;
      }
    }
    workgroupBarrier(); // tile_p, tile_max and tile_at are rewritten by the next tile
  }

  // Write the split's partial results for the valid query vectors.
  // normalize: the single split's o / l, the same division as mla-merge's (l >= 1: cache row 0 is visible to
  // every query vector); otherwise / 1, exact.
  let d = select(vec4<f32>(1.0), l_run, params.normalize == 1u);
  let wa = array<vec4<f32>, 4>(o0a / d.x, o1a / d.y, o2a / d.z, o3a / d.w);
  let wb = array<vec4<f32>, 4>(o0b / d.x, o1b / d.y, o2b / d.z, o3b / d.w);
  for (var k = 0u; k < 4u; k++) {
    let qv_local = qb_local * 4u + k;
    let qv = q_first + qv_local;
    if (qv_local < nq) {
      let at = (qv * params.splits + split) * kv4 + col;
      if (col < kv4) { o_part[at] = wa[k]; }
      if (col + 1u < kv4) { o_part[at + 1u] = wb[k]; }
      if (lid == 0u) { ml[qv * params.splits + split] = vec2<f32>(m_run[k], l_run[k]); }
    }
  }
}
