// A budget for R1-style reasoning: once the model has written `budget` tokens inside its `<think>` section
// without closing it, the tokens of `</think>` are forced, one per step, as if the model had chosen them, and
// generation goes on from there with the answer. This is how the reasoning-effort controls of hosted APIs
// behave ("budget forcing"). Forced tokens go through the same path as chosen ones (appended to the cache,
// streamed, counted), so plain and speculative decoding stay exactly what they are without a budget:
// greedy output is identical either way (src/decode/steps.ts keeps drafts from crossing a forced token).
//
// The section is recognized on the decoded text, as src/tokenizer/think.ts does (in V3's vocabulary `<think>`
// is not one token): it is open from the start when the prompt opened it (R1's template ends with
// `<think>\n`), or opens when the generated text starts with `<think>`. Only the first section has a budget
// (R1 writes one per answer). A model that closes the section itself within the budget is never forced.
import { InputError } from '../errors.ts';
import { promptOpensThinking, THINK_CLOSE, THINK_OPEN } from '../tokenizer/think.ts';
import type { TextTokenizer } from '../tokenizer/tokenizer.ts';

/** Tokens a decode loop must emit instead of the model's choices (src/decode/steps.ts). */
export interface TokenForcing {
  /** Tokens the model may still choose before a forced one is due (Infinity when none will be). */
  free(): number;
  /** The token to emit next instead of the model's choice, or null when the model chooses. */
  next(): number | null;
}

/** What the budget needs from the tokenizer: the ids of `</think>` and where the prompt left off. */
export interface ThinkingMarkers {
  /** `</think>` as token ids (one added token in R1's vocabulary, several pieces in others). */
  closeTokens: readonly number[];
  /** The prompt already opened the reasoning (src/tokenizer/think.ts promptOpensThinking). */
  startsInThinking: boolean;
}

type Phase =
  | 'opening' // no section yet: waiting to see whether the text starts with <think>
  | 'reasoning'
  | 'forcing' // the budget is spent: emitting the tokens of </think>
  | 'done'; // the section closed, or there is none

export class ReasoningBudget implements TokenForcing {
  private phase: Phase;
  /** Text of the current phase not yet matched against a tag (a tag may span tokens). */
  private held = '';
  /** Reasoning tokens generated so far. */
  private spent = 0;
  /** Tokens of </think> already emitted while forcing. */
  private forced = 0;

  constructor(
    readonly budget: number,
    private readonly markers: ThinkingMarkers,
  ) {
    if (!Number.isInteger(budget) || budget < 0) throw new InputError('reasoning-budget', `must be an integer >= 0, got ${budget}`);
    if (markers.closeTokens.length === 0) throw new InputError('reasoning-budget', 'the tokenizer gives no tokens for </think>');
    this.phase = markers.startsInThinking ? 'reasoning' : 'opening';
  }

  /** Reasoning tokens the model generated (forced ones not counted). */
  get reasoningTokens(): number {
    return this.spent;
  }

  /** Whether the budget cut the reasoning short. */
  get exhausted(): boolean {
    return this.forced > 0;
  }

  /** Feeds each generated token's text, in order, forced tokens included. */
  observe(piece: string): void {
    if (this.phase === 'opening') {
      this.held += piece;
      const start = this.held.trimStart();
      if (start.startsWith(THINK_OPEN)) {
        this.phase = 'reasoning';
        this.held = start.slice(THINK_OPEN.length); // the token that opened the section is not reasoning
        this.checkClosed();
      } else if (!THINK_OPEN.startsWith(start)) {
        this.phase = 'done';
      }
    } else if (this.phase === 'reasoning') {
      this.held += piece;
      if (!this.checkClosed()) this.spent++;
    } else if (this.phase === 'forcing') {
      if (++this.forced === this.markers.closeTokens.length) this.phase = 'done';
    }
  }

  free(): number {
    if (this.phase === 'reasoning') return Math.max(0, this.budget - this.spent);
    if (this.phase === 'forcing') return 0;
    // Before the section opens, the token that opens it and `budget` more come before any forced one.
    if (this.phase === 'opening') return this.budget + 1;
    return Infinity;
  }

  next(): number | null {
    if (this.phase === 'reasoning' && this.spent >= this.budget) this.phase = 'forcing';
    return this.phase === 'forcing' ? this.markers.closeTokens[this.forced] : null;
  }

  /** Whether the held text closes the section (then done); keeps only a possible partial tag otherwise. */
  private checkClosed(): boolean {
    if (this.held.includes(THINK_CLOSE)) {
      this.phase = 'done';
      this.held = '';
      return true;
    }
    this.held = this.held.slice(-(THINK_CLOSE.length - 1));
    return false;
  }
}

/** The budget `options` ask for (null without reasoningBudget); checks that they give what it needs. */
export function reasoningBudgetFor(options: { reasoningBudget?: number; thinking?: ThinkingMarkers; decoder?: unknown }): ReasoningBudget | null {
  if (options.reasoningBudget === undefined) return null;
  if (!options.thinking || !options.decoder) {
    throw new InputError('reasoning-budget', 'needs a tokenizer: the <think> section is found in the decoded text and closed with the tokens of </think>');
  }
  return new ReasoningBudget(options.reasoningBudget, options.thinking);
}

// Enough of the prompt's end to see an opening `<think>` and the whitespace after it.
const PROMPT_TAIL_TOKENS = 32;

/**
 * The markers from the model's tokenizer: `</think>` as it encodes the text (no BOS), and whether the prompt
 * ends inside an open section. A tokenizer that cannot write `</think>` back is an InputError.
 */
export function thinkingMarkers(tokenizer: Pick<TextTokenizer, 'encode' | 'decode'>, prompt: readonly number[]): ThinkingMarkers {
  const closeTokens = tokenizer.encode(THINK_CLOSE, { addBos: false });
  const back = tokenizer.decode(closeTokens);
  if (closeTokens.length === 0 || back !== THINK_CLOSE) {
    throw new InputError('reasoning-budget', `the tokenizer cannot write ${THINK_CLOSE}: it encodes to [${closeTokens.join(', ')}], which reads back as '${back}'`);
  }
  return { closeTokens, startsInThinking: promptIdsOpenThinking(tokenizer, prompt) };
}

/** Whether the prompt (token ids) ends inside an open `<think>` section (R1's template leaves it so). */
export function promptIdsOpenThinking(tokenizer: Pick<TextTokenizer, 'decode'>, prompt: readonly number[]): boolean {
  return promptOpensThinking(tokenizer.decode(prompt.slice(-PROMPT_TAIL_TOKENS)));
}
