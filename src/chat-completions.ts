// The OpenAI call shape over an engine, as web-llm offers it in the page: engine.chat.completions.create({
// messages, stream, temperature, top_p, max_tokens, seed, stop, ... }) answers a `chat.completion`, or with
// `stream: true` an async iterable of `chat.completion.chunk`s. The request is checked by the API server's
// parser and answered with its body builders (src/server/openai-request.ts, openai-response.ts), so the
// page and the server take and give the same shapes. Browser-safe.
//
// What differs from the server: the answer's `usage` also rides on the last chunk that has choices (the
// finish chunk), with `usage.extra` holding the engine's speed figures, as web-llm does; with
// stream_options.include_usage a usage-only chunk follows, as OpenAI does. A generation stopped through
// `signal` finishes with finish_reason 'abort' (web-llm's).
import type { GenerateResult, GenerateStats, Generation } from './decode/generate.ts';
import type { ModelEngine } from './engine.ts';
import { InputError } from './errors.ts';
import { ApiError } from './server/api-error.ts';
import { parseChatRequest, samplingOptions, type CompletionRequest } from './server/openai-request.ts';
import { chatChoice, chatChunk, chatCompletion, finishReason, newMeta, usage, usageChunk, type ChatDelta, type OpenAiFinishReason, type ResponseMeta } from './server/openai-response.ts';
import type { ChatMessage } from './tokenizer/chat-template.ts';
import { promptOpensThinking, splitReasoning, ThinkSplitter } from './tokenizer/think.ts';
import { statsJson, type GenerateStatsJson } from './decode/stats-json.ts';

/** The request body: OpenAI's chat.completions fields (checked as the server checks them; unknown ones ignored). */
export interface ChatCompletionRequest {
  messages: readonly { role: string; content: string | readonly { type: string; text?: string }[] }[];
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean | null } | null;
  temperature?: number | null;
  top_p?: number | null;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  seed?: number | null;
  stop?: string | readonly string[] | null;
  /** Choices (1 to 16; more than 1 not with `stream`): choice i samples with seed + i, stepped together. */
  n?: number | null;
  frequency_penalty?: number | null;
  presence_penalty?: number | null;
  [field: string]: unknown;
}

export type ChatFinishReason = OpenAiFinishReason | 'abort';

export interface ChatCompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** Prompt tokens the cache held from an earlier request, not computed again. */
  prompt_tokens_details: { cached_tokens: number };
  /** The engine's figures for this answer: tokens/s of prefill and decode, MTP acceptance. */
  extra?: GenerateStatsJson;
}

export interface ChatCompletionMessage {
  role: 'assistant';
  content: string;
  /** R1's reasoning (DeepSeek's API's field), when the prompt opened it. */
  reasoning_content?: string;
}

export interface ChatCompletion extends ResponseMeta {
  object: 'chat.completion';
  choices: { index: number; message: ChatCompletionMessage; logprobs: null; finish_reason: ChatFinishReason }[];
  usage: ChatCompletionUsage;
}

export interface ChatCompletionChunk extends ResponseMeta {
  object: 'chat.completion.chunk';
  choices: { index: number; delta: { role?: 'assistant'; content?: string; reasoning_content?: string }; logprobs: null; finish_reason: ChatFinishReason | null }[];
  usage?: ChatCompletionUsage;
}

export interface CreateOptions {
  /** Stops the generation within a step; the answer then ends with finish_reason 'abort'. */
  signal?: AbortSignal;
}

export class ChatCompletions {
  constructor(private readonly engine: ModelEngine) {}

  create(request: ChatCompletionRequest & { stream: true }, options?: CreateOptions): Promise<AsyncIterable<ChatCompletionChunk>>;
  create(request: ChatCompletionRequest & { stream?: false | null }, options?: CreateOptions): Promise<ChatCompletion>;
  create(request: ChatCompletionRequest, options?: CreateOptions): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>>;
  /** Checks the request (an InputError naming the field), then generates through the chat template. */
  async create(request: ChatCompletionRequest, options: CreateOptions = {}): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>> {
    const r = parse(request);
    if (r.n !== 1 && r.stream) throw new InputError('n', `${r.n} choices are offered without stream only; stream one, or leave stream out`);
    const messages = r.prompt as ChatMessage[];
    const opensThinking = promptOpensThinking(this.engine.renderChat(messages));
    const generateOptions = { ...samplingOptions(r), maxNewTokens: r.maxTokens, signal: options.signal };
    const meta = newMeta('chat', this.engine.name);
    if (r.stream) return chunks(this.engine.generate(messages, generateOptions), meta, opensThinking, r.includeUsage);
    // n choices as the engine's samples: one prefill forked n ways where the model batches, choice i seed + i.
    const results = r.n === 1 ? [await this.engine.generate(messages, generateOptions).result] : (await this.engine.generateSamples(messages, { ...generateOptions, samples: r.n })).samples;
    const choices = results.map((result, index) => {
      const { reasoning, content } = splitReasoning(result.text, { startsInThinking: opensThinking });
      return { ...chatChoice(index, { content, reasoning: opensThinking || reasoning !== '' ? reasoning : null }, 'stop'), logprobs: null, finish_reason: finishOf(result) };
    });
    return { ...chatCompletion(meta, [], usageOf(results)), choices } as ChatCompletion;
  }
}

/** The request through the server's parser, its refusals (ApiError 400) as InputErrors naming the field. */
function parse(request: ChatCompletionRequest): CompletionRequest {
  try {
    return parseChatRequest(request);
  } catch (e) {
    if (e instanceof ApiError) throw new InputError(e.param ?? 'request', e.message);
    throw e;
  }
}

async function* chunks(gen: Generation, meta: ResponseMeta, opensThinking: boolean, includeUsage: boolean): AsyncGenerator<ChatCompletionChunk> {
  // Tags may be split across tokens; the splitter holds a partial `</think>` back until it is sure.
  const splitter = new ThinkSplitter({ startsInThinking: opensThinking });
  const chunk = (delta: ChatDelta) => chatChunk(meta, delta) as ChatCompletionChunk;
  const pieces = (parts: { kind: 'reasoning' | 'content'; text: string }[]) => parts.map((p) => chunk(p.kind === 'content' ? { content: p.text } : { reasoning_content: p.text }));
  yield chunk({ role: 'assistant', content: '' });
  for await (const event of gen) if (event.text) yield* pieces(splitter.push(event.text));
  const result = await gen.result;
  yield* pieces(splitter.end());
  const use = usageOf([result]);
  const last = chunk({});
  yield { ...last, choices: [{ ...last.choices[0], finish_reason: finishOf(result) }], usage: use };
  if (includeUsage) yield usageChunk(meta, 'chat', use) as ChatCompletionChunk;
}

/** The counts of a request's choices; `extra` the first choice's engine figures. */
function usageOf(results: readonly GenerateResult[]): ChatCompletionUsage {
  return { ...usage(results[0].stats.promptTokens, results), extra: statsJson(results[0].stats) };
}

function finishOf(result: GenerateResult): ChatFinishReason {
  return result.finishReason === 'aborted' ? 'abort' : finishReason(result.finishReason);
}
