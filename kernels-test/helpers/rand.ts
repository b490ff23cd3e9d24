// Seeded random inputs, so a failing kernel test reproduces exactly.
import { seededRandom } from '../../src/decode/rng.ts';

export const rng = seededRandom;

/** Uniform values in [-scale, scale). */
export function randomF32(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() * 2 - 1) * scale;
  return out;
}
