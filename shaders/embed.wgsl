// embed: out[r, :] = table[tokens[r], :] for the tokens this part of the table holds.
// A vocabulary too large for one buffer (V3: 129280 x 7168 BF16 = 1.85 GB) is split into parts of whole
// rows; the wrapper dispatches once per part and each row is written by exactly one part.
// tokens: [rows] u32 (on the GPU: decode feeds the sampled id straight back) · table: this part's rows,
// BF16 packed two per u32 (low half first) or f32 · out: [rows, hidden] f32
// dispatch: (ceil(hidden / WG_SIZE), rows); needs hidden % 2 == 0 for BF16 (checked in src/kernels/embed.ts).
// reference: src/reference/embed.ts

override WG_SIZE: u32 = 256;

struct Params {
  rows: u32,
  hidden: u32,
  first_row: u32,  // vocabulary id of this part's row 0
  part_rows: u32,
  vocab: u32,
}

@group(0) @binding(0) var<storage, read> tokens: array<u32>;        // [rows]
@group(0) @binding(1) var<storage, read> table: array<u32>;         // BF16: [part_rows, hidden / 2] · F32: [part_rows, hidden]
@group(0) @binding(2) var<storage, read_write> out: array<f32>;     // [rows, hidden]
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wg.y;
  let col = wg.x * WG_SIZE + lid;
  // An id outside the vocabulary is refused on the CPU before upload; min() keeps a bad one in bounds.
  let token = min(tokens[row], params.vocab - 1u);
  if (col >= params.hidden || token < params.first_row || token >= params.first_row + params.part_rows) {
    return;
  }
  let local = token - params.first_row;
#if BF16
  let word = table[(local * params.hidden + col) / 2u];
  let bits = select(word << 16u, word & 0xFFFF0000u, (col & 1u) == 1u);
  out[row * params.hidden + col] = bitcast<f32>(bits);
#else
  out[row * params.hidden + col] = bitcast<f32>(table[local * params.hidden + col]);
#endif
}
