// The speculative-sampling rule against plain sampling, on synthetic distributions: whatever the draft
// distribution q, the accepted-or-resampled token must be distributed as the target p.
import { describe, expect, it } from 'vitest';
import { seededRandom } from './rng.ts';
import { acceptGreedy, acceptSampled, drawFrom } from './speculative.ts';

/** Pearson chi-square statistic of observed counts against expected probabilities. */
function chiSquare(counts: number[], p: number[], n: number): number {
  return counts.reduce((s, c, i) => (p[i] > 0 ? s + (c - n * p[i]) ** 2 / (n * p[i]) : s + (c > 0 ? Infinity : 0)), 0);
}

describe('acceptSampled', () => {
  // 6 outcomes -> 5 degrees of freedom; the 0.999 quantile of chi-square(5) is 20.5. With fixed seeds the
  // test is deterministic; a rule that returned the draft unconditionally, or resampled from p instead of
  // the residual, scores in the hundreds at this sample size.
  const CHI2_5_999 = 20.52;
  const N = 40_000;
  const cases: [string, number[], number[]][] = [
    ['q close to p', [0.3, 0.25, 0.2, 0.15, 0.07, 0.03], [0.28, 0.27, 0.2, 0.14, 0.08, 0.03]],
    ['q far from p', [0.5, 0.3, 0.1, 0.05, 0.05, 0], [0.05, 0.05, 0.1, 0.2, 0.3, 0.3]],
    ['q puts mass where p has none', [0, 0, 0.6, 0.4, 0, 0], [0.2, 0.2, 0.2, 0.2, 0.1, 0.1]],
  ];
  it.each(cases)('the first token is distributed as p (%s)', (_, p, q) => {
    const random = seededRandom(1234);
    const counts = new Array(p.length).fill(0);
    const P = Float64Array.from(p);
    const Q = Float64Array.from(q);
    for (let n = 0; n < N; n++) {
      const draft = drawFrom(Q, random());
      const v = acceptSampled([draft], () => P, () => Q, random);
      counts[v.accepted === 1 ? draft : v.next]++;
    }
    expect(chiSquare(counts, p, N)).toBeLessThan(CHI2_5_999);
  });

  it('accepts drafts with probability sum(min(p, q)) and chains into the bonus token', () => {
    const p = Float64Array.from([0.5, 0.3, 0.2]);
    const q = Float64Array.from([0.2, 0.3, 0.5]);
    const random = seededRandom(99);
    let accepted = 0;
    for (let n = 0; n < N; n++) accepted += acceptSampled([drawFrom(q, random())], () => p, () => q, random).accepted;
    // E[accept] = sum_x min(p(x), q(x)) = 0.2 + 0.3 + 0.2 = 0.7; binomial sd at N = 40k is 0.0023
    expect(Math.abs(accepted / N - 0.7)).toBeLessThan(0.01);
  });
});

describe('acceptGreedy', () => {
  it('keeps drafts while they match and takes the main model token after them', () => {
    expect(acceptGreedy({ drafts: [5, 6, 7], predictions: [5, 6, 9, 1] })).toEqual({ accepted: 2, next: 9 });
    expect(acceptGreedy({ drafts: [5], predictions: [4, 8] })).toEqual({ accepted: 0, next: 4 });
    expect(acceptGreedy({ drafts: [5, 6], predictions: [5, 6, 3] })).toEqual({ accepted: 2, next: 3 });
  });
});
