// Rotary embedding on consecutive pairs (x[2i], x[2i+1]) rotated by pos * invFreq[i] — the convention of
// DeepSeek's inference/model.py (docs/conventions.md "RoPE"). invFreq comes from ModelConfig.ropeInvFreq
// (YaRN applied there). Rotates `vec[start .. start+dim)` in place.
export function rotatePairs(
  vec: Float64Array,
  start: number,
  dim: number,
  pos: number,
  invFreq: ArrayLike<number>,
  cosSinScale = 1,
): void {
  for (let i = 0; i < dim / 2; i++) {
    const angle = pos * invFreq[i];
    const c = Math.cos(angle) * cosSinScale;
    const s = Math.sin(angle) * cosSinScale;
    const a = vec[start + 2 * i];
    const b = vec[start + 2 * i + 1];
    vec[start + 2 * i] = a * c - b * s;
    vec[start + 2 * i + 1] = a * s + b * c;
  }
}
