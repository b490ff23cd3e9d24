import { describe, expect, it } from 'vitest';
import { routeToken, topK, type RoutingConfig } from './moe-route.ts';

const base: RoutingConfig = {
  nRoutedExperts: 8,
  numExpertsPerTok: 2,
  nGroup: 4,
  topkGroup: 2,
  topkMethod: 'greedy',
  scoringFunc: 'softmax',
  normTopkProb: false,
  routedScalingFactor: 1,
  scaleAfterNormalise: false,
};
const logit = (p: number) => Math.log(p / (1 - p)); // sigmoid(logit(p)) = p

describe('topK', () => {
  it('takes the largest first and breaks ties towards the lower index', () => {
    expect(topK([1, 3, 3, 2], 3)).toEqual([1, 2, 3]);
    expect(topK([5, 5, 5], 2)).toEqual([0, 1]);
  });
});

describe('routeToken', () => {
  it('greedy softmax: weights are the softmax values, not renormalised, times the factor', () => {
    const logits = [0, 1, 2, 3, 0, 0, 0, 0];
    const r = routeToken(logits, { ...base, routedScalingFactor: 2 });
    const z = logits.reduce((s, x) => s + Math.exp(x), 0);
    expect(r.experts).toEqual([3, 2]);
    expect(r.weights[0]).toBeCloseTo((2 * Math.exp(3)) / z, 14);
    expect(r.weights[1]).toBeCloseTo((2 * Math.exp(2)) / z, 14);
  });

  it('group_limited_greedy keeps the groups with the largest maximum', () => {
    // groups {0,1} {2,3} {4,5} {6,7}; maxima 0.9, 0.5, 0.85, 0.1 -> keep groups 0 and 2;
    // expert 3 (0.5) is outside, although it beats expert 4 (0.4).
    const p = [0.9, 0.2, 0.1, 0.5, 0.4, 0.85, 0.1, 0.05];
    const r = routeToken(p.map(Math.log), { ...base, topkMethod: 'group_limited_greedy', numExpertsPerTok: 3 });
    expect(r.experts).toEqual([0, 5, 4]);
  });

  it('noaux_tc: bias steers the choice, groups scored by the sum of their top two, weights from unbiased scores', () => {
    const s = [0.6, 0.1, 0.55, 0.5, 0.3, 0.3, 0.9, 0.05];
    const bias = [0, 0, 0, 0, 0.2, 0.2, -0.5, 0];
    // c = [0.6,0.1, 0.55,0.5, 0.5,0.5, 0.4,0.05]; group sums 0.7, 1.05, 1.0, 0.45 -> keep groups 1, 2
    const cfg: RoutingConfig = {
      ...base,
      topkMethod: 'noaux_tc',
      scoringFunc: 'sigmoid',
      normTopkProb: true,
      routedScalingFactor: 2.5,
      scaleAfterNormalise: true,
      numExpertsPerTok: 3,
    };
    const r = routeToken(s.map(logit), cfg, bias);
    // c inside kept groups: 2:0.55, 3:0.5, 4:0.5, 5:0.5 -> 2, then 3 (tie with 4, 5: lower index)
    expect(r.experts).toEqual([2, 3, 4]);
    const sum = s[2] + s[3] + s[4];
    expect(r.weights).toEqual([s[2], s[3], s[4]].map((w) => expect.closeTo((w / sum) * 2.5, 12)));
  });

  it('V2 semantics: normalising skips the scaling factor; V3 applies both', () => {
    const logits = [3, 2, 1, 0, 0, 0, 0, 0];
    const v2 = routeToken(logits, { ...base, normTopkProb: true, routedScalingFactor: 16 });
    expect(v2.weights[0] + v2.weights[1]).toBeCloseTo(1, 14);
    const v3 = routeToken(logits, { ...base, normTopkProb: true, routedScalingFactor: 16, scaleAfterNormalise: true });
    expect(v3.weights[0] + v3.weights[1]).toBeCloseTo(16, 12);
  });
});
