// sample-penalty: the repetition penalty (CTRL), in place: for each listed token t of row `row`,
// logits[t] = logits[t] * inv_penalty if it is > 0, else logits[t] * penalty. Runs before the argmax or
// the sampler; the ids must be distinct (src/decode/sampling.ts deduplicates them), so no two threads
// touch one logit.
// tokens: [count] u32 · logits: [rows, vocab] f32
// dispatch: ceil(count / WG_SIZE) workgroups, one token per thread.
// reference: src/reference/sample.ts (penalizedLogits)

override WG_SIZE: u32 = 64;

struct Params {
  count: u32,
  vocab: u32,
  row: u32,
  penalty: f32,
  inv_penalty: f32,
}

@group(0) @binding(0) var<storage, read> tokens: array<u32>;        // [count]
@group(0) @binding(1) var<storage, read_write> logits: array<f32>;  // [rows, vocab]
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  if (gid.x >= params.count) {
    return;
  }
  let t = tokens[gid.x];
  if (t >= params.vocab) {
    return; // ids are checked on the CPU; this only keeps a bad one from writing another row
  }
  let at = params.row * params.vocab + t;
  let l = logits[at];
  logits[at] = select(l * params.penalty, l * params.inv_penalty, l > 0.0);
}
