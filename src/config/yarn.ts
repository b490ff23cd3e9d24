// YaRN rotary scaling, the one place it is computed (see docs/conventions.md "YaRN").
// Follows HF modeling_deepseek semantics: the ramp applies whenever rope_scaling is yarn, and the
// attention softmax scale gains mscale(mscale_all_dim)^2.

export interface YarnScaling {
  factor: number;
  originalMaxPositionEmbeddings: number;
  betaFast: number;
  betaSlow: number;
  mscale: number;
  mscaleAllDim: number;
}

/** 0.1 * m * ln(scale) + 1, or 1 when the context is not stretched. */
export function yarnMscale(scale: number, m: number): number {
  return scale <= 1 ? 1 : 0.1 * m * Math.log(scale) + 1;
}

/** The dimension index at which a wavelength completes `rotations` turns over the original context. */
function correctionDim(rotations: number, dim: number, theta: number, originalMax: number): number {
  return (dim * Math.log(originalMax / (rotations * 2 * Math.PI))) / (2 * Math.log(theta));
}

/**
 * Inverse frequencies of the rotary pairs, length dim/2: `theta^(-2i/dim)`, blended towards
 * `theta^(-2i/dim) / factor` by a linear ramp between the YaRN correction dims when scaling is set.
 */
export function ropeInverseFrequencies(dim: number, theta: number, yarn: YarnScaling | null): Float64Array {
  const half = dim / 2;
  const freq = new Float64Array(half);
  for (let i = 0; i < half; i++) freq[i] = 1 / Math.pow(theta, (2 * i) / dim);
  if (!yarn) return freq;
  const low = Math.max(Math.floor(correctionDim(yarn.betaFast, dim, theta, yarn.originalMaxPositionEmbeddings)), 0);
  let high = Math.min(Math.ceil(correctionDim(yarn.betaSlow, dim, theta, yarn.originalMaxPositionEmbeddings)), dim - 1);
  if (low === high) high += 0.001; // avoids a zero-width ramp, as the reference does
  for (let i = 0; i < half; i++) {
    const ramp = Math.min(Math.max((i - low) / (high - low), 0), 1);
    freq[i] = (freq[i] / yarn.factor) * ramp + freq[i] * (1 - ramp);
  }
  return freq;
}

/** Multiplier on cos/sin: mscale(mscale) / mscale(mscale_all_dim); 1 in every DeepSeek release. */
export function yarnCosSinScale(yarn: YarnScaling | null): number {
  if (!yarn) return 1;
  return yarnMscale(yarn.factor, yarn.mscale) / yarnMscale(yarn.factor, yarn.mscaleAllDim);
}

/** Attention softmax scale: qHeadDim^-0.5, times mscale(mscale_all_dim)^2 under YaRN. */
export function attentionSoftmaxScale(qHeadDim: number, yarn: YarnScaling | null): number {
  const base = 1 / Math.sqrt(qHeadDim);
  if (!yarn || !yarn.mscaleAllDim) return base;
  const m = yarnMscale(yarn.factor, yarn.mscaleAllDim);
  return base * m * m;
}
