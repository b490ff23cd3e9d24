// Test-time scaling by sampling: N answers to one prompt, each with its own seed, their final answers
// extracted (src/decode/answers.ts) and, when asked, a majority vote over them (src/decode/vote.ts).
//
// Seeds: sample i uses seed + i (mod 2^32), where seed is the caller's seed or, without one, a random one; so
// a run is repeated by its first seed, and sample i alone is `generate` with seed + i.
//
// The source decides how a sample runs: one generate() per sample (one after another), or, from
// Engine.generateSamples, its batcher's choices of the prompt: one prefill forked into up to `group` sequences
// (choice i with seed + i, so sample i is still generate() with seed + i), and every group stepping in one
// batch (runSamples creates them all before awaiting the first).
import { InputError } from '../errors.ts';
import { compileAnswerPattern, extractAnswer } from './answers.ts';
import type { GenerateOptions, GenerateResult, Generation } from './generate.ts';
import { majorityVote, type VoteResult } from './vote.ts';

/** generate()'s options, less the decoder: each sample needs its own (the engine makes one per generation). */
export interface SamplesOptions extends Omit<GenerateOptions, 'decoder'> {
  /** How many answers to draw (>= 1). */
  samples: number;
  /** Take the majority over the samples' answers (SampleSet.vote). Default false. */
  vote?: boolean;
  /** Picks each answer out of the text after the reasoning (src/decode/answers.ts); default: last \boxed{...}, else all of it. */
  answerPattern?: RegExp | string;
  /** Called with each sample as it completes, in order (to show samples while the rest run). */
  onSample?: (sample: Sample) => void;
}

export interface Sample extends GenerateResult {
  /** 0..samples-1. */
  index: number;
  /** The seed it was drawn with. */
  seed: number;
  /** Its final answer (normalized), or null when it gave none. */
  answer: string | null;
}

export interface SampleSet {
  samples: Sample[];
  /** Whether the samples were stepped together in one batch (Engine.generateSamples), not one after another. */
  batched?: boolean;
  /** With `vote`: the majority answer, its votes and the tally; null otherwise. */
  vote: VoteResult | null;
}

/** Samples drawn as choices of one prompt: `choices(options, n)` gives n generations from one prefill, choice i with seed options.seed + i. */
export interface ChoiceSource {
  choices(options: GenerateOptions, n: number): Generation[];
  /** Most choices per prefill. */
  group: number;
}

/** seed, seed + 1, ... wrapped into the sampler's [0, 2^32). */
export function sampleSeeds(seed: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => (seed + i) % 2 ** 32);
}

/**
 * Draws `options.samples` generations through `source` (an engine's generate on a fixed prompt, or its
 * batcher's choices of it), with seeds as above; `startsInThinking` says whether the prompt opened an R1
 * `<think>` section. Options are checked before the first sample runs.
 */
export async function generateSamples(
  source: ((options: GenerateOptions) => Generation) | ChoiceSource,
  options: SamplesOptions,
  startsInThinking: boolean,
): Promise<SampleSet> {
  const { samples: count, vote, answerPattern, onSample, ...common } = options;
  if (!Number.isInteger(count) || count < 1) throw new InputError('samples', `must be an integer >= 1, got ${count}`);
  const pattern = answerPattern === undefined ? undefined : compileAnswerPattern(answerPattern);
  const base = common.seed ?? Math.floor(Math.random() * 2 ** 32);
  if (!Number.isInteger(base) || base < 0 || base >= 2 ** 32) throw new InputError('seed', `must be an integer in [0, 2^32), got ${base}`);
  const seeds = sampleSeeds(base, count);
  const samples: Sample[] = [];
  const done = (result: GenerateResult, index: number) => {
    const sample = { ...result, index, seed: seeds[index], answer: extractAnswer(result.text, { pattern, startsInThinking }) };
    samples.push(sample);
    onSample?.(sample);
  };
  let generations: Generation[];
  if (typeof source === 'function') {
    generations = seeds.map((seed) => source({ ...common, seed })); // every sample's options are checked before any runs
  } else {
    generations = [];
    const group = Math.max(1, source.group);
    for (let i = 0; i < count; i += group) generations.push(...source.choices({ ...common, seed: seeds[i] }, Math.min(group, count - i)));
  }
  await runSamples(generations, done);
  return { samples, vote: vote ? majorityVote(samples.map((s) => s.answer)) : null };
}

/**
 * Reports each generation's result, in order, as it completes. Every generation was created before the first
 * is awaited, so a batcher's run together. An aborted sample ends the run: the caller's signal (or a dispose)
 * stops the later ones too.
 */
async function runSamples(generations: readonly Generation[], done: (result: GenerateResult, index: number) => void): Promise<void> {
  for (const [i, gen] of generations.entries()) {
    const result = await gen.result;
    done(result, i);
    if (result.finishReason === 'aborted') return;
  }
}
