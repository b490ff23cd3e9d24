import { describe, expect, it } from 'vitest';
import { crossEntropySum } from './cross-entropy.ts';

describe('crossEntropySum', () => {
  it('uniform logits cost log(vocab) per row, whatever their level', () => {
    expect(crossEntropySum(new Float32Array(8).fill(3), 4, [0, 3])).toBeCloseTo(2 * Math.log(4), 14);
  });

  it('is −log softmax of the target, summed over rows', () => {
    const logits = Float32Array.from([1, 2, 3, -1, 0, 0.5]);
    const row = (r: number[], t: number) => -Math.log(Math.exp(r[t]) / r.reduce((s, x) => s + Math.exp(x), 0));
    const want = row([1, 2, 3], 2) + row([-1, 0, 0.5], 0);
    expect(crossEntropySum(logits, 3, [2, 0])).toBeCloseTo(want, 12);
  });

  it('stays finite where exp would overflow (the max is subtracted first)', () => {
    const logits = Float32Array.from([1000, 999, 0]);
    expect(crossEntropySum(logits, 3, [1])).toBeCloseTo(1 + Math.log(1 + Math.exp(-1) + Math.exp(-1000)), 12);
  });

  it('refuses fewer logits than rows × vocab', () => {
    expect(() => crossEntropySum(new Float32Array(5), 3, [0, 1])).toThrow(RangeError);
  });
});
