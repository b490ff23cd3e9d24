// Generated tokens' log-probabilities in OpenAI's two shapes: chat's `logprobs.content` (one object per
// token with its text, UTF-8 bytes and `top_logprobs`) and the legacy completions' parallel lists (`tokens`,
// `token_logprobs`, `top_logprobs` as text -> logprob maps, `text_offset`). A token's text is its own
// decoding, so a token holding part of a multi-byte character shows a replacement character there.
import type { StepLogprobs, TokenLogprob } from '../decode/logprobs.ts';

export type TokenText = (id: number) => string;

export interface ChatLogprobs {
  content: { token: string; logprob: number; bytes: number[]; top_logprobs: { token: string; logprob: number; bytes: number[] }[] }[];
  refusal: null;
}

export interface TextLogprobs {
  tokens: string[];
  token_logprobs: number[];
  top_logprobs: Record<string, number>[];
  text_offset: number[];
}

export function chatLogprobs(steps: readonly StepLogprobs[], text: TokenText): ChatLogprobs {
  const entry = (t: TokenLogprob) => {
    const token = text(t.token);
    return { token, logprob: t.logprob, bytes: [...Buffer.from(token, 'utf8')] };
  };
  return { content: steps.map((s) => ({ ...entry(s), top_logprobs: s.top.map(entry) })), refusal: null };
}

/** `offset`: characters of the completion before the first of `steps` (streams continue the count). */
export function textLogprobs(steps: readonly StepLogprobs[], text: TokenText, offset = 0): TextLogprobs {
  const tokens = steps.map((s) => text(s.token));
  const text_offset: number[] = [];
  for (const t of tokens) {
    text_offset.push(offset);
    offset += t.length;
  }
  const top_logprobs = steps.map((s) => Object.fromEntries(s.top.map((t) => [text(t.token), t.logprob])));
  return { tokens, token_logprobs: steps.map((s) => s.logprob), top_logprobs, text_offset };
}

/** Entries of a stream not yet sent: each chunk carries those of the tokens that arrived since the last. */
export class PendingLogprobs {
  private pending: StepLogprobs[] = [];
  private offset = 0;

  constructor(private readonly text: TokenText) {}

  add(step: StepLogprobs | undefined): void {
    if (step) this.pending.push(step);
  }

  takeChat(): ChatLogprobs | null {
    return this.pending.length ? chatLogprobs(this.pending.splice(0), this.text) : null;
  }

  takeText(): TextLogprobs | null {
    if (!this.pending.length) return null;
    const out = textLogprobs(this.pending.splice(0), this.text, this.offset);
    this.offset = out.text_offset[out.text_offset.length - 1] + out.tokens[out.tokens.length - 1].length;
    return out;
  }
}
