// sample-penalty: the penalties on one row of logits, in place, before the argmax or the sampler. Each
// entry names a token t of row `row`: when `scaled`, the repetition penalty (CTRL) makes the logit
// l * inv_penalty if it is > 0, else l * penalty; then `offset` (OpenAI's frequency_penalty * count +
// presence_penalty) is subtracted. The tokens are distinct (src/kernels/sample-penalty.ts merges them), so
// no two threads touch one logit.
// entries: [count * 3] u32 (token, scaled, offset as f32 bits) · logits: [rows, vocab] f32
// dispatch: ceil(count / WG_SIZE) workgroups, one entry per thread.
// reference: src/reference/sample.ts (penalizedLogits)

override WG_SIZE: u32 = 64;

struct Params {
  count: u32,
  vocab: u32,
  row: u32,
  penalty: f32,
  inv_penalty: f32,
}

@group(0) @binding(0) var<storage, read> entries: array<u32>;       // [count * 3]
@group(0) @binding(1) var<storage, read_write> logits: array<f32>;  // [rows, vocab]
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  if (gid.x >= params.count) {
    return;
  }
  let t = entries[gid.x * 3u];
  if (t >= params.vocab) {
    return; // ids are checked on the CPU; this only keeps a bad one from writing another row
  }
  let at = params.row * params.vocab + t;
  var l = logits[at];
  if (entries[gid.x * 3u + 1u] != 0u) {
    l = select(l * params.penalty, l * params.inv_penalty, l > 0.0);
  }
  logits[at] = l - bitcast<f32>(entries[gid.x * 3u + 2u]);
}
