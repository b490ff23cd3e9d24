// Response bodies in OpenAI's shapes: `chat.completion` / `text_completion` objects, and their streamed
// chunks (`chat.completion.chunk` with `choices[0].delta`; text completions stream `text_completion` objects
// whose choices carry the next piece of `text`). Field names are OpenAI's (snake_case) because clients
// parse them; `reasoning_content` is DeepSeek's API's name for R1's thinking, next to `content`. Browser-safe:
// the page engine's chat.completions.create (src/chat-completions.ts) answers in these shapes too.
import type { GenerateResult } from '../decode/generate.ts';
import type { ChatLogprobs, TextLogprobs } from './logprobs-format.ts';
import type { Endpoint } from './openai-request.ts';

/** What every body and chunk of one response shares. */
export interface ResponseMeta {
  id: string;
  /** Unix seconds. */
  created: number;
  model: string;
}

export type OpenAiFinishReason = 'stop' | 'length';

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** As OpenAI's: prompt tokens the prefix cache held, not computed again. */
  prompt_tokens_details: { cached_tokens: number };
}

/** The assistant's output split at R1's `</think>`; reasoning is null when the prompt did not open one. */
export interface ChatOutput {
  content: string;
  reasoning: string | null;
}

export function newMeta(endpoint: Endpoint, model: string): ResponseMeta {
  const prefix = endpoint === 'chat' ? 'chatcmpl' : 'cmpl';
  return { id: `${prefix}-${randomHex(16)}`, created: Math.floor(Date.now() / 1000), model };
}

/** `bytes` random bytes as hex (getRandomValues: in Node and in every page, secure context or not). */
function randomHex(bytes: number): string {
  return Array.from(globalThis.crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** An end-of-sequence token or a stop string is `stop`; the token budget or a full context is `length`. */
export function finishReason(reason: GenerateResult['finishReason']): OpenAiFinishReason {
  return reason === 'eos' || reason === 'stop' ? 'stop' : 'length';
}

/** The counts of a request's choices (they share the prompt, and its cached part). */
export function usage(promptTokens: number, results: readonly GenerateResult[]): Usage {
  const completionTokens = results.reduce((n, r) => n + r.tokens.length, 0);
  const cached = results[0]?.stats.cachedTokens ?? 0;
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens, prompt_tokens_details: { cached_tokens: cached } };
}

/** One answer of a chat completion; a request with `n` gets n of them, indexed 0..n-1. */
export function chatChoice(index: number, output: ChatOutput, finish: OpenAiFinishReason, logprobs: ChatLogprobs | null = null) {
  const message = { role: 'assistant' as const, content: output.content, ...(output.reasoning !== null && { reasoning_content: output.reasoning }) };
  return { index, message, logprobs, finish_reason: finish };
}

export function chatCompletion(meta: ResponseMeta, choices: ReturnType<typeof chatChoice>[], use: Usage) {
  return { ...meta, object: 'chat.completion', choices, usage: use };
}

export function textChoice(index: number, text: string, finish: OpenAiFinishReason, logprobs: TextLogprobs | null = null) {
  return { index, text, logprobs, finish_reason: finish };
}

export function textCompletion(meta: ResponseMeta, choices: ReturnType<typeof textChoice>[], use: Usage) {
  return { ...meta, object: 'text_completion', choices, usage: use };
}

/** The first chunk carries the role, the middle ones a piece of content or reasoning, the last only the reason. */
export type ChatDelta = { role: 'assistant'; content: '' } | { content: string } | { reasoning_content: string } | Record<string, never>;

/** A streamed piece of choice `index` (0 unless the request asked for `n` > 1 choices). */
export function chatChunk(meta: ResponseMeta, delta: ChatDelta, finish: OpenAiFinishReason | null = null, logprobs: ChatLogprobs | null = null, index = 0) {
  return { ...meta, object: 'chat.completion.chunk', choices: [{ index, delta, logprobs, finish_reason: finish }] };
}

export function textChunk(meta: ResponseMeta, text: string, finish: OpenAiFinishReason | null = null, logprobs: TextLogprobs | null = null, index = 0) {
  return { ...meta, object: 'text_completion', choices: [{ index, text, logprobs, finish_reason: finish }] };
}

/** stream_options.include_usage: after the finish chunk, one with no choices and the counts. */
export function usageChunk(meta: ResponseMeta, endpoint: Endpoint, use: Usage) {
  return { ...meta, object: endpoint === 'chat' ? 'chat.completion.chunk' : 'text_completion', choices: [], usage: use };
}
