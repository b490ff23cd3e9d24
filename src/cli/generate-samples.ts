// `generate --samples N [--vote] [--answer-pattern RE]`: N samples of one prompt (seeds seed, seed + 1, ...),
// each printed as it completes, or with --vote only the majority answer, its share of the votes and the
// tally. --json prints one object with every sample and the vote. The samples step together in one batch,
// choices of one prefill, where the options allow (Engine.generateSamples), else one after another.
import { compileAnswerPattern } from '../decode/answers.ts';
import type { Sample, SampleSet, SamplesOptions } from '../decode/samples.ts';
import { voteShare, type VoteResult } from '../decode/vote.ts';
import type { Engine } from '../engine.ts';
import { InputError } from '../errors.ts';
import { parseIntOption } from './load-model.ts';
import { TextSink } from './text-sink.ts';
import { statsJson } from '../decode/stats-json.ts';

export interface SamplesCliOptions {
  samples?: string;
  vote?: boolean;
  answerPattern?: string;
}

export interface ParsedSamples {
  samples: number;
  vote: boolean;
  answerPattern: RegExp | undefined;
}

/** The flags checked (before the model loads); null when none asks for samples, so generate streams one answer. */
export function parseSamplesOptions(o: SamplesCliOptions): ParsedSamples | null {
  const samples = parseIntOption(o.samples, '--samples', 1);
  if (o.vote && samples === undefined) throw new InputError('--vote', 'needs --samples N: the vote is over N sampled answers');
  if (o.answerPattern !== undefined && samples === undefined) throw new InputError('--answer-pattern', 'needs --samples N (and usually --vote)');
  if (samples === undefined) return null;
  const answerPattern = o.answerPattern === undefined ? undefined : compileAnswerPattern(o.answerPattern, '--answer-pattern');
  return { samples, vote: Boolean(o.vote), answerPattern };
}

export interface SamplesRun {
  json: boolean;
  hideReasoning: boolean;
  /** The prompt left the model inside `<think>`. */
  opensThinking: boolean;
  /** The sampling settings in use, as --json reports them (snake_case). */
  sampling: Record<string, number | null | undefined>;
}

/** Draws the samples and prints them (or the vote); resolves when all are done. */
export async function runSamples(engine: Engine, tokens: number[], options: Omit<SamplesOptions, 'samples'>, parsed: ParsedSamples, run: SamplesRun): Promise<void> {
  const { samples, vote, answerPattern } = parsed;
  const show = !run.json && !vote;
  const set = await engine.generateSamples(
    { tokens },
    {
      ...options,
      samples,
      vote,
      answerPattern,
      onSample: show ? (s) => printSample(s, samples, run) : undefined,
    },
  );
  if (run.json) process.stdout.write(`${JSON.stringify(samplesJson(set, run.sampling))}\n`);
  else if (set.vote) process.stdout.write(voteText(set.vote));
  process.stderr.write(`${summary(set)}\n`);
}

function printSample(s: Sample, count: number, run: SamplesRun): void {
  process.stdout.write(`--- sample ${s.index + 1}/${count} (seed ${s.seed}, ${s.finishReason}) ---\n`);
  const sink = new TextSink(process.stdout, run.hideReasoning, run.opensThinking);
  sink.write(s.text);
  sink.end();
  process.stdout.write(`\n${s.answer === null ? '[no answer]' : `[answer: ${s.answer}]`}\n`);
}

/** The winning answer, its share and the tally, one line each. */
export function voteText(v: VoteResult): string {
  const tally = v.tally.map((c) => `${JSON.stringify(c.answer)} ${c.votes}`);
  if (v.abstained) tally.push(`(no answer) ${v.abstained}`);
  return `answer: ${v.answer ?? '(none: no sample gave an answer)'}\nvotes: ${voteShare(v)}\ntally: ${tally.join(', ')}\n`;
}

function samplesJson(set: SampleSet, sampling: Record<string, number | null | undefined>) {
  const v = set.vote;
  return {
    samples: set.samples.map((s) => ({ index: s.index, seed: s.seed, tokens: s.tokens, text: s.text, answer: s.answer, finish_reason: s.finishReason, stats: statsJson(s.stats) })),
    vote: v ? { answer: v.answer, votes: v.votes, total: v.total, share: voteShare(v), abstained: v.abstained, tally: v.tally.map((c) => ({ answer: c.answer, votes: c.votes })) } : null,
    sampling,
  };
}

function summary(set: SampleSet): string {
  const tokens = set.samples.reduce((n, s) => n + s.stats.generatedTokens, 0);
  const rate = set.samples.reduce((n, s) => n + s.stats.decodeTokensPerSecond, 0) / Math.max(1, set.samples.length);
  return `[${set.samples.length} samples, ${set.batched ? 'in one batch' : 'one after another'} · ${tokens} tokens, decode ${rate.toFixed(1)} tok/s on average]`;
}
