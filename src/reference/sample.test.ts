import { describe, expect, it } from 'vitest';
import type { SampleRequest } from '../decode/causal-lm.ts';
import { argmaxToken, drawToken, keptTokens, penalizedLogits, sampleToken } from './sample.ts';

const req = (r: Partial<SampleRequest>): SampleRequest => ({
  temperature: 1, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1, penalizedTokens: [], random: 0, ...r,
});
const keptIds = (logits: number[], r: Partial<SampleRequest>) => {
  const k = keptTokens(logits, req(r));
  return [...k.z.keys()].filter((i) => k.z[i] >= k.minKept);
};

describe('sample reference', () => {
  it('argmax breaks ties towards the lowest id', () => {
    expect(argmaxToken([1, 3, 2, 3])).toBe(1);
    expect(sampleToken([1, 3, 2, 3], req({ temperature: 0 }))).toBe(1);
  });

  it('top-k keeps every token tied with the k-th largest', () => {
    expect(keptIds([5, 1, 5, 3, 5], { topK: 2 })).toEqual([0, 2, 4]);
    expect(keptIds([5, 1, 4, 3, 2], { topK: 2 })).toEqual([0, 2]);
  });

  it('top-p keeps the smallest prefix of the sorted order reaching p, boundary ties kept', () => {
    const p = [0.5, 0.3, 0.15, 0.05];
    const logits = p.map(Math.log);
    expect(keptIds(logits, { topP: 0.5 })).toEqual([0]); // 0.5 reaches 0.5
    expect(keptIds(logits, { topP: 0.51 })).toEqual([0, 1]);
    expect(keptIds(logits, { topP: 0.9 })).toEqual([0, 1, 2]);
    expect(keptIds([0, 0, 0, -5], { topP: 0.1 })).toEqual([0, 1, 2]); // the first reaches it; its ties stay
  });

  it('top-p renormalises over the top-k set first', () => {
    // Masses 0.4, 0.3, 0.3 (minus the tail); top-k 2 leaves 4/7, 3/7: p = 0.5 needs only the first.
    const logits = [Math.log(0.4), Math.log(0.3), Math.log(0.29), -20];
    expect(keptIds(logits, { topP: 0.5 })).toEqual([0, 1]);
    expect(keptIds(logits, { topP: 0.5, topK: 2 })).toEqual([0]);
  });

  it('min-p keeps p >= min_p * p_max', () => {
    expect(keptIds([0, Math.log(0.5), Math.log(0.2), Math.log(0.05)], { minP: 0.1 })).toEqual([0, 1, 2]);
  });

  it('draws by inverse CDF in id order, over the kept tokens only', () => {
    const logits = [Math.log(0.2), Math.log(0.5), Math.log(0.3)];
    const k = keptTokens(logits, req({}));
    expect([0, 0.19, 0.21, 0.69, 0.71, 0.99].map((u) => drawToken(k, u))).toEqual([0, 0, 1, 1, 2, 2]);
    const top2 = keptTokens(logits, req({ topK: 2 })); // drops id 0: masses 0.5, 0.3 of 0.8
    expect([0, 0.6, 0.65].map((u) => drawToken(top2, u))).toEqual([1, 1, 2]);
  });

  it('temperature sharpens and the repetition penalty divides positive, multiplies negative logits', () => {
    const k = keptTokens([1, 2], req({ temperature: 0.5 }));
    expect(Array.from(k.z)).toEqual([2, 4]);
    const pen = penalizedLogits([2, -2, 3], { repetitionPenalty: 2, penalizedTokens: [0, 1, 1] });
    expect(Array.from(pen)).toEqual([1, -4, 3]);
  });

  it('additive penalties are subtracted after the repetition penalty, in f32', () => {
    const pen = penalizedLogits([2, -2, 3, 0.5], { repetitionPenalty: 2, penalizedTokens: [0, 1], additivePenalties: new Map([[0, 0.5], [2, 1.1], [3, -0.25]]) });
    expect(Array.from(pen)).toEqual([0.5, -4, Math.fround(3 - Math.fround(1.1)), 0.75]);
    expect(Array.from(penalizedLogits([1, 2], { repetitionPenalty: 1, penalizedTokens: [0], additivePenalties: new Map([[1, 2]]) }))).toEqual([1, 0]);
  });
});
