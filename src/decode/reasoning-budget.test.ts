import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.ts';
import type { SampleRequest } from './causal-lm.ts';
import { generate, type GenerateOptions } from './generate.ts';
import { ReasoningBudget, thinkingMarkers } from './reasoning-budget.ts';
import type { DraftStep, Speculator } from './speculative.ts';
import { TestLM } from './test-lm.ts';

// Ids 10..15 write 'a'..'f'; 20 '<think>', 21 '</think>' (one token, as in R1's vocabulary); 22 + 23 write
// '</think>' in two pieces (as a vocabulary without the tag as a token does).
const TEXT: Record<number, string> = { 20: '<think>', 21: '</think>', 22: '</th', 23: 'ink>', 2: '', 3: '' };
const decoder = () => ({ push: (id: number) => TEXT[id] ?? String.fromCharCode(97 + id - 10) });

/**
 * The next token as a function of the last one, so that a forced token changes what follows as in a real
 * model: prompt id 2 -> '<think>', then the letters a b c d e f a ... forever; '</think>' -> 'e'.
 */
function chooser(overrides: Record<number, number> = {}): (last: number) => number {
  return (last) => overrides[last] ?? (last === 2 ? 20 : last >= 10 && last <= 15 ? 10 + ((last - 9) % 6) : last === 21 || last === 23 ? 14 : 10);
}

/** A deterministic model (greedy by construction) with a draft head that errs after 'c', for speculation. */
class FunctionLM extends TestLM {
  /** Tokens that entered the cache, in order (rolled back with the length). */
  appended: number[] = [];
  private spec: FunctionSpeculator | null;
  constructor(
    readonly next: (last: number) => number,
    withDraftHead = false,
  ) {
    super(40, 200);
    this.spec = withDraftHead ? new FunctionSpeculator(this) : null;
  }
  async append(tokens: readonly number[], sample: SampleRequest | null) {
    this.push(tokens);
    return sample ? this.next(tokens[tokens.length - 1]) : null;
  }
  push(tokens: readonly number[]) {
    this.appended.push(...tokens);
    this.length += tokens.length;
  }
  /** Logits that make next(token) the clear choice after each token (for the logprobs path). */
  override async appendLogits(tokens: readonly number[]): Promise<Float32Array> {
    const V = this.config.vocabSize;
    const logits = new Float32Array(tokens.length * V);
    tokens.forEach((t, i) => (logits[i * V + this.next(t)] = 20));
    this.push(tokens);
    return logits;
  }
  override truncate(length: number) {
    this.length = length;
    this.appended.length = length;
  }
  speculator(): Speculator | null {
    return this.spec;
  }
}

class FunctionSpeculator implements Speculator {
  readonly maxDrafts = 3;
  private pending = -1;
  /** Draft counts of each step. */
  steps: number[] = [];
  constructor(private readonly lm: FunctionLM) {}
  get length() {
    return this.lm.length;
  }
  private draft(last: number): number {
    return last === 12 ? 15 : this.lm.next(last); // wrong after 'c', so some drafts are rejected
  }
  async prefill(prompt: readonly number[]) {
    this.lm.push(prompt);
    return (this.pending = this.lm.next(prompt[prompt.length - 1]));
  }
  async step(t: number, draft: SampleRequest[]): Promise<DraftStep> {
    if (t !== this.pending) throw new Error(`step from ${t}, but ${this.pending} was chosen`);
    const drafts: number[] = [];
    for (let last = t; drafts.length < draft.length; ) drafts.push((last = this.draft(last)));
    const inputs = [t, ...drafts];
    this.lm.push(inputs);
    this.steps.push(drafts.length);
    return { drafts, predictions: inputs.map((x) => this.lm.next(x)) };
  }
  commit(step: DraftStep, accepted: number, next: number) {
    this.lm.truncate(this.lm.length - (step.drafts.length - accepted));
    this.pending = next;
  }
  replaceNext(t: number) {
    this.pending = t;
  }
}

async function run(lm: FunctionLM, options: GenerateOptions, prompt = [2]) {
  const gen = generate(lm, prompt, { decoder: decoder(), maxNewTokens: 12, ...options });
  const events: (number | null)[] = [];
  for await (const e of gen) events.push(e.token);
  const r = await gen.result;
  expect(events.filter((t) => t !== null)).toEqual(r.tokens); // forced tokens stream like chosen ones
  return r;
}

const R1 = { closeTokens: [21], startsInThinking: false };

describe('ReasoningBudget', () => {
  it('counts tokens inside the section and then forces the tokens of </think>, one per step', () => {
    const b = new ReasoningBudget(2, { closeTokens: [22, 23], startsInThinking: false });
    expect([b.free(), b.next()]).toEqual([3, null]); // the opening token and 2 reasoning tokens come first
    b.observe(' <thi');
    b.observe('nk>\n');
    expect([b.free(), b.next(), b.reasoningTokens]).toEqual([2, null, 0]);
    b.observe('a');
    b.observe('b');
    expect([b.free(), b.next(), b.exhausted]).toEqual([0, 22, false]);
    b.observe('</th');
    expect([b.free(), b.next(), b.exhausted]).toEqual([0, 23, true]);
    b.observe('ink>');
    expect([b.free(), b.next(), b.reasoningTokens]).toEqual([Infinity, null, 2]);
  });

  it('is never due when the text does not open a section or the model closes it in time', () => {
    const none = new ReasoningBudget(0, R1);
    none.observe('Hello');
    expect([none.free(), none.next()]).toEqual([Infinity, null]);
    const closed = new ReasoningBudget(3, { ...R1, startsInThinking: true });
    closed.observe('a');
    closed.observe('</thi');
    closed.observe('nk>');
    closed.observe('b');
    expect([closed.free(), closed.next(), closed.reasoningTokens]).toEqual([Infinity, null, 2]);
  });

  it('refuses a bad budget or a tokenizer that cannot write </think>', () => {
    expect(() => new ReasoningBudget(-1, R1)).toThrow(/reasoning-budget: must be an integer >= 0, got -1/);
    expect(() => new ReasoningBudget(1.5, R1)).toThrow(InputError);
    const lossy = { encode: () => [5], decode: () => '<unk>' };
    expect(() => thinkingMarkers(lossy, [1])).toThrow(/cannot write <\/think>: it encodes to \[5\], which reads back as '<unk>'/);
    expect(() => generate(new FunctionLM(chooser()), [2], { reasoningBudget: 3 })).toThrow(/reasoning-budget: needs a tokenizer/);
  });
});

describe('generate with a reasoning budget', () => {
  it('forces </think> after the budget and continues with what follows it', async () => {
    const r = await run(new FunctionLM(chooser()), { reasoningBudget: 4, thinking: R1 });
    expect(r.tokens).toEqual([20, 10, 11, 12, 13, 21, 14, 15, 10, 11, 12, 13]);
    expect(r.text).toBe('<think>abcd</think>efabcd');
    const unlimited = await run(new FunctionLM(chooser()), {});
    expect(unlimited.text).toBe('<think>abcdefabcde'); // the model alone never closes it
  });

  it('a several-token </think> is forced token by token; budget 0 after an opening prompt forces the first token', async () => {
    const pieces = { closeTokens: [22, 23], startsInThinking: false };
    expect((await run(new FunctionLM(chooser()), { reasoningBudget: 2, thinking: pieces })).text).toBe('<think>ab</think>efabcde');
    const opened = await run(new FunctionLM(chooser()), { reasoningBudget: 0, thinking: { closeTokens: [21], startsInThinking: true } }, [12]);
    expect(opened.tokens.slice(0, 2)).toEqual([21, 14]);
  });

  it('a model that closes the section within the budget is left alone', async () => {
    const closesAfterB = chooser({ 11: 21 });
    const r = await run(new FunctionLM(closesAfterB), { reasoningBudget: 2, thinking: R1 });
    expect(r.text).toBe('<think>ab</think>efab</think>efa');
    expect(r.tokens).toEqual((await run(new FunctionLM(closesAfterB), {})).tokens);
  });

  it('with logprobs the same tokens are forced, each reported with the logprob the model gave it', async () => {
    const plain = await run(new FunctionLM(chooser()), { reasoningBudget: 2, thinking: R1 });
    const gen = generate(new FunctionLM(chooser()), [2], { decoder: decoder(), maxNewTokens: 12, reasoningBudget: 2, thinking: R1, logprobs: 0 });
    const logprobs: number[] = [];
    for await (const e of gen) if (e.logprobs) logprobs.push(e.logprobs.logprob);
    expect((await gen.result).tokens).toEqual(plain.tokens);
    // '</think>' (index 3) was forced against a choice the model was sure of; the others were its own.
    expect(logprobs[3]).toBeLessThan(-19);
    expect(logprobs.filter((_, i) => i !== 3).every((l) => l > -1e-6)).toBe(true);
  });

  it('speculative decoding gives the same tokens, keeps drafts off the forced tokens and its caches in step', async () => {
    for (const [budget, thinking] of [
      [4, R1],
      [1, R1],
      [3, { closeTokens: [22, 23], startsInThinking: false }],
      [0, { closeTokens: [21], startsInThinking: true }],
    ] as const) {
      const plainLm = new FunctionLM(chooser());
      const plain = await run(plainLm, { reasoningBudget: budget, thinking, maxNewTokens: 16 });
      const lm = new FunctionLM(chooser(), true);
      const spec = await run(lm, { reasoningBudget: budget, thinking, maxNewTokens: 16, speculative: 'mtp', draftTokens: 3 });
      expect(spec.tokens, `budget ${budget}`).toEqual(plain.tokens);
      expect(spec.stats.speculative).toBe('mtp');
      expect(spec.stats.accepted).toBeGreaterThan(0);
      // What entered each cache is the prompt and the output (the last token is chosen, never appended).
      expect(lm.appended.slice(0, plainLm.appended.length)).toEqual(plainLm.appended);
      expect(lm.appended).toEqual([2, ...spec.tokens].slice(0, lm.appended.length));
    }
  });
});
