import { describe, expect, it } from 'vitest';
import type { SampleRequest } from './causal-lm.ts';
import { generate, type GenerateOptions } from './generate.ts';
import { generateSamples, sampleSeeds, type Sample } from './samples.ts';
import { TestLM } from './test-lm.ts';

/**
 * A model that answers with one letter picked by the sampler's random number, then ends: answers 'a' for
 * random < 0.6 (and greedily), else 'b' (with a `\boxed{}` around it when the prompt asks, token 3).
 */
class CoinLM extends TestLM {
  private out: number[] = [];
  constructor() {
    super(20, 50);
  }
  async append(tokens: readonly number[], sample: SampleRequest | null) {
    if (this.length === 0) {
      const letter = sample && sample.temperature > 0 && sample.random >= 0.6 ? 11 : 10; // greedy: 'a'
      this.out = tokens.includes(3) ? [12, letter, 13, 1] : [letter, 1];
    }
    this.length += tokens.length;
    return sample ? (this.out.shift() ?? 1) : null;
  }
}

const TEXT: Record<number, string> = { 10: 'a', 11: 'b', 12: 'so \\boxed{', 13: '}' };
const decoder = () => ({ push: (id: number) => TEXT[id] ?? '' });

function sampler(lm: CoinLM, prompt: number[]) {
  // As the engine does: each generation empties the context when its turn comes.
  return (o: GenerateOptions) => generate(lm, prompt, { ...o, decoder: decoder(), beforeStart: async () => lm.truncate(0) });
}

describe('generateSamples', () => {
  it('draws N samples with seeds seed + i, each what generate gives alone with that seed, and votes', async () => {
    const lm = new CoinLM();
    const seen: number[] = [];
    const set = await generateSamples(sampler(lm, [2, 3]), { samples: 7, seed: 2 ** 32 - 3, temperature: 1, vote: true, onSample: (s) => seen.push(s.index) }, false);
    expect(set.samples.map((s) => s.seed)).toEqual([2 ** 32 - 3, 2 ** 32 - 2, 2 ** 32 - 1, 0, 1, 2, 3]);
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6]);
    for (const s of set.samples) {
      const alone = await sampler(lm, [2, 3])({ seed: s.seed, temperature: 1 }).result;
      expect(s.tokens).toEqual(alone.tokens);
      expect(s.answer).toBe(alone.text.slice(-2, -1)); // the letter inside \boxed{...}
    }
    const count = (a: string) => set.samples.filter((s: Sample) => s.answer === a).length;
    const [winner, loser] = count('a') >= count('b') ? ['a', 'b'] : ['b', 'a'];
    expect(set.vote).toMatchObject({ answer: winner, votes: count(winner), total: 7, abstained: 0 });
    expect(set.vote!.tally.map((c) => [c.answer, c.votes])).toEqual([[winner, count(winner)], ...(count(loser) ? [[loser, count(loser)]] : [])]);
    // Both answers occur for these seeds, so the vote is a real majority, not a unanimous one.
    expect(count('a') * count('b')).toBeGreaterThan(0);
  });

  it('a greedy run agrees with itself: the vote is forced', async () => {
    const set = await generateSamples(sampler(new CoinLM(), [2]), { samples: 3, temperature: 0, vote: true, answerPattern: '[ab]' }, false);
    expect(set.vote).toMatchObject({ answer: 'a', votes: 3, total: 3 });
  });

  it('from a choice source: groups of at most `group` choices, each group seeded with its first sample’s seed', async () => {
    const lm = new CoinLM();
    const asked: [number, number][] = [];
    const source = {
      group: 3,
      // Choice i of a group as generate() with seed + i, as a batcher's choices are.
      choices: (o: GenerateOptions, n: number) => {
        asked.push([o.seed!, n]);
        return Array.from({ length: n }, (_, i) => sampler(lm, [2, 3])({ ...o, seed: (o.seed! + i) % 2 ** 32 }));
      },
    };
    const set = await generateSamples(source, { samples: 7, seed: 2 ** 32 - 2, temperature: 1 }, false);
    expect(asked).toEqual([[2 ** 32 - 2, 3], [1, 3], [4, 1]]);
    const one = await generateSamples(sampler(lm, [2, 3]), { samples: 7, seed: 2 ** 32 - 2, temperature: 1 }, false);
    expect(set.samples.map((s) => [s.index, s.seed, s.tokens])).toEqual(one.samples.map((s) => [s.index, s.seed, s.tokens]));
  });

  it('checks its options before any sample runs', async () => {
    const lm = new CoinLM();
    await expect(generateSamples(sampler(lm, [2]), { samples: 0 }, false)).rejects.toThrow(/samples: must be an integer >= 1, got 0/);
    await expect(generateSamples(sampler(lm, [2]), { samples: 2, answerPattern: '[' }, false)).rejects.toThrow(/answer-pattern: '\[' is not a valid regular expression/);
    await expect(generateSamples(sampler(lm, [2]), { samples: 2, seed: -1 }, false)).rejects.toThrow(/seed: must be an integer in \[0, 2\^32\)/);
    expect(lm.length).toBe(0);
    expect(sampleSeeds(5, 3)).toEqual([5, 6, 7]);
  });
});
