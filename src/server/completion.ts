// One completion request on the engine, in two halves. prepareCompletion() encodes the prompt and checks it
// against the context before the request queues (a hopeless request is refused at once, without waiting its
// turn); runCompletion() runs when the engine is ours and answers as SSE chunks or one JSON body.
import type { ServerResponse } from 'node:http';
import type { GenerateOptions, GenerateResult, Generation } from '../decode/generate.ts';
import type { StepLogprobs } from '../decode/logprobs.ts';
import type { Engine, EngineBatcher } from '../engine.ts';
import type { ChatMessage } from '../tokenizer/chat-template.ts';
import { promptOpensThinking, splitReasoning, ThinkSplitter } from '../tokenizer/think.ts';
import { ApiError } from './api-error.ts';
import { closingError, isClosing } from './shutdown.ts';
import { chatLogprobs, PendingLogprobs, textLogprobs, type TokenText } from './logprobs-format.ts';
import type { CompletionRequest } from './openai-request.ts';
import {
  chatChunk,
  chatCompletion,
  finishReason,
  textChunk,
  textCompletion,
  usage,
  usageChunk,
  type ChatOutput,
  type ResponseMeta,
} from './openai-response.ts';
import { sendJson } from './http-io.ts';
import { SseStream } from './sse.ts';

export interface PreparedCompletion {
  request: CompletionRequest;
  /** The prompt as the model reads it (chat through the template). */
  tokens: number[];
  maxTokens: number;
  /** Chat only: the rendered prompt ends inside an open `<think>` (R1), so the answer starts as reasoning. */
  opensThinking: boolean;
}

// OpenAI's legacy completions endpoint defaults to 16 tokens; chat to whatever room the context leaves.
const TEXT_DEFAULT_MAX_TOKENS = 16;

/** Encodes the prompt and fixes the token budget; a 400 when prompt plus budget exceed the context. */
export function prepareCompletion(engine: Engine, request: CompletionRequest): PreparedCompletion {
  const chat = request.endpoint === 'chat';
  const tokens = engine.encode(request.prompt); // the engine's InputError (no tokenizer) becomes a 400
  const opensThinking = chat && promptOpensThinking(engine.renderChat(request.prompt as ChatMessage[]));
  const context = engine.model.maxLength;
  const promptParam = chat ? 'messages' : 'prompt';
  const room = context - tokens.length;
  if (room <= 0) {
    throw new ApiError(400, `This model's maximum context length is ${context} tokens; the ${promptParam} alone take ${tokens.length}.`, promptParam, 'context_length_exceeded');
  }
  // Without max_tokens: the model's own budget (generation_config.json) when it states one, as vLLM does.
  const modelBudget = engine.generationDefaults.maxNewTokens ?? (engine.generationDefaults.maxLength !== undefined ? engine.generationDefaults.maxLength - tokens.length : undefined);
  const maxTokens = request.maxTokens ?? Math.max(1, Math.min(modelBudget ?? (chat ? room : TEXT_DEFAULT_MAX_TOKENS), room));
  if (maxTokens > room) {
    throw new ApiError(
      400,
      `This model's maximum context length is ${context} tokens, but ${tokens.length + maxTokens} were requested (${tokens.length} in the ${promptParam}, ${maxTokens} for the completion); max_tokens can be at most ${room} here.`,
      'max_tokens',
      'context_length_exceeded',
    );
  }
  return { request, tokens, maxTokens, opensThinking };
}

export interface CompletionHooks {
  /** Called once, when the first generated token is known (time to first token). */
  onFirstToken?: () => void;
}

/**
 * Generates and answers. The engine's synchronous checks throw before anything is written (the caller sends
 * them as JSON errors); `signal` stops generation within one step. Resolves with the engine's result,
 * finishReason 'aborted' when stopped. Stopped because the server closes (shutdown.ts), a stream still ends
 * properly (finish chunk, [DONE]) and a one-body answer is a 503 thrown to the caller.
 */
export async function runCompletion(
  engine: Engine,
  p: PreparedCompletion,
  res: ServerResponse,
  meta: ResponseMeta,
  signal: AbortSignal,
  hooks: CompletionHooks = {},
  batcher: EngineBatcher | null = null,
): Promise<GenerateResult> {
  const r = p.request;
  // A field the request leaves out stays undefined, so the engine uses the model's generation_config.json
  // (not OpenAI's defaults: temperature 1 would override what the model's authors chose).
  const options: GenerateOptions = {
    maxNewTokens: p.maxTokens,
    temperature: r.temperature,
    topP: r.topP,
    topK: r.topK,
    minP: r.minP,
    // A penalty makes the engine decode without MTP drafts (each verified row would need its own set).
    repetitionPenalty: r.repetitionPenalty,
    frequencyPenalty: r.frequencyPenalty,
    presencePenalty: r.presencePenalty,
    seed: r.seed,
    stopStrings: r.stop,
    // Each token's logits are then read back and MTP drafting is off (src/decode/generate.ts).
    logprobs: r.logprobs,
    signal,
  };
  const start = batcher && batchable(r) ? batcher.generate : (prompt: { tokens: number[] }, o: GenerateOptions) => engine.generate(prompt, o);
  const gen = firstTokenHook(start({ tokens: p.tokens }, options), hooks.onFirstToken);
  const text = tokenText(engine);
  return r.stream ? stream(gen, p, res, meta, signal, text) : collect(gen, p, res, meta, signal, text);
}

/**
 * Whether the request can step in the batch: logprobs need each token's logits read back, which the batched
 * step does not do, so those requests run alone through engine.generate (between two batch steps).
 */
export function batchable(r: CompletionRequest): boolean {
  return r.logprobs === undefined;
}

/** `gen` whose iteration calls `onFirst` at its first event. */
function firstTokenHook(gen: Generation, onFirst: (() => void) | undefined): Generation {
  if (!onFirst) return gen;
  return {
    get result() {
      return gen.result;
    },
    async *[Symbol.asyncIterator]() {
      let first = true;
      for await (const event of gen) {
        if (first) onFirst();
        first = false;
        yield event;
      }
    },
  };
}

async function collect(gen: Generation, p: PreparedCompletion, res: ServerResponse, meta: ResponseMeta, signal: AbortSignal, text: TokenText): Promise<GenerateResult> {
  const steps: StepLogprobs[] = [];
  for await (const event of gen) {
    if (signal.aborted) break;
    if (event.logprobs) steps.push(event.logprobs);
  }
  const result = await gen.result;
  if (result.finishReason === 'aborted') {
    if (isClosing(signal)) throw closingError();
    return result; // the client left: nobody is listening
  }
  const finish = finishReason(result.finishReason);
  const use = usage(p.tokens.length, result.tokens.length);
  const wanted = p.request.logprobs !== undefined;
  const body =
    p.request.endpoint === 'chat'
      ? chatCompletion(meta, chatOutput(result.text, p.opensThinking), finish, use, wanted ? chatLogprobs(steps, text) : null)
      : textCompletion(meta, result.text, finish, use, wanted ? textLogprobs(steps, text) : null);
  sendJson(res, 200, body);
  return result;
}

async function stream(gen: Generation, p: PreparedCompletion, res: ServerResponse, meta: ResponseMeta, signal: AbortSignal, text: TokenText): Promise<GenerateResult> {
  const chat = p.request.endpoint === 'chat';
  const sse = new SseStream(res);
  // Tags may be split across tokens; the splitter holds a partial `</think>` back until it is sure.
  const splitter = new ThinkSplitter({ startsInThinking: p.opensThinking });
  const logprobs = new PendingLogprobs(text);
  const send = (chunks: { kind: 'reasoning' | 'content'; text: string }[]) => {
    for (const c of chunks) sse.send(chatChunk(meta, c.kind === 'content' ? { content: c.text } : { reasoning_content: c.text }, null, logprobs.takeChat()));
  };
  if (chat) sse.send(chatChunk(meta, { role: 'assistant', content: '' }));
  for await (const event of gen) {
    if (signal.aborted || !sse.open) break;
    logprobs.add(event.logprobs);
    if (!event.text) continue; // a token that completes no character yet (part of a multi-byte one)
    if (chat) send(splitter.push(event.text));
    else sse.send(textChunk(meta, event.text, null, logprobs.takeText()));
  }
  const result = await gen.result;
  // The server closing cuts the answer short like max_tokens does: 'length' is the reason clients know for it.
  const closing = isClosing(signal);
  if (result.finishReason === 'aborted' && !closing) return result;
  if (chat) send(splitter.end());
  const finish = closing ? 'length' : finishReason(result.finishReason);
  // Entries of tokens whose text never came out (held back, cut by a stop string) ride on the last chunk.
  sse.send(chat ? chatChunk(meta, {}, finish, logprobs.takeChat()) : textChunk(meta, '', finish, logprobs.takeText()));
  if (p.request.includeUsage) sse.send(usageChunk(meta, p.request.endpoint, usage(p.tokens.length, result.tokens.length)));
  sse.end();
  return result;
}

/** A token's own text (special tokens included); `<id>` for a model served without a tokenizer. */
function tokenText(engine: Engine): TokenText {
  const tokenizer = engine.tokenizer;
  return (id) => (tokenizer ? tokenizer.decode([id]) : `<${id}>`);
}

/** R1 reasoning apart from the answer; `reasoning` is reported (maybe empty) whenever the prompt opened it. */
function chatOutput(text: string, opensThinking: boolean): ChatOutput {
  const { reasoning, content } = splitReasoning(text, { startsInThinking: opensThinking });
  return { content, reasoning: opensThinking || reasoning !== '' ? reasoning : null };
}
