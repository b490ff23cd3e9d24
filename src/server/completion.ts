// One completion request on the engine, in two halves. prepareCompletion() encodes the prompt and checks it
// against the context before the request queues (a hopeless request is refused at once, without waiting its
// turn); runCompletion() runs when the engine is ours and answers as SSE chunks or one JSON body.
import type { ServerResponse } from 'node:http';
import type { GenerateOptions, GenerateResult, Generation } from '../decode/generate.ts';
import type { StepLogprobs } from '../decode/logprobs.ts';
import { sampleSeeds } from '../decode/samples.ts';
import type { Engine, EngineBatcher } from '../engine.ts';
import type { ChatMessage } from '../tokenizer/chat-template.ts';
import { promptOpensThinking, splitReasoning, ThinkSplitter } from '../tokenizer/think.ts';
import { ApiError } from './api-error.ts';
import { shareBudget, type CacheShare } from './cache-share.ts';
import { closingError, isClosing } from './shutdown.ts';
import { chatLogprobs, PendingLogprobs, textLogprobs, type TokenText } from './logprobs-format.ts';
import { samplingOptions, type CompletionRequest } from './openai-request.ts';
import {
  chatChoice,
  chatChunk,
  chatCompletion,
  finishReason,
  textChoice,
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

/**
 * Encodes the prompt and fixes the token budget; a 400 when prompt plus budget exceed the context. Without
 * max_tokens the budget stays within `share`, the request's share of the cache (cache-share.ts), when given.
 */
export function prepareCompletion(engine: Engine, request: CompletionRequest, share?: CacheShare): PreparedCompletion {
  const chat = request.endpoint === 'chat';
  const tokens = engine.encode(request.prompt); // the engine's InputError (no tokenizer) becomes a 400
  const opensThinking = chat && promptOpensThinking(engine.renderChat(request.prompt as ChatMessage[]));
  const context = engine.model.maxLength;
  const promptParam = chat ? 'messages' : 'prompt';
  const room = context - tokens.length;
  if (room <= 0) {
    throw new ApiError(400, `This model's maximum context length is ${context} tokens; the ${promptParam} alone take ${tokens.length}.`, promptParam, 'context_length_exceeded');
  }
  // Without max_tokens: the model's own budget (generation_config.json) when it states one, as vLLM does, within
  // the request's share of the cache.
  const modelBudget = engine.generationDefaults.maxNewTokens ?? (engine.generationDefaults.maxLength !== undefined ? engine.generationDefaults.maxLength - tokens.length : undefined);
  const limit = share ? shareBudget(share, tokens.length, room, TEXT_DEFAULT_MAX_TOKENS) : room;
  const maxTokens = request.maxTokens ?? Math.max(1, Math.min(modelBudget ?? (chat ? room : TEXT_DEFAULT_MAX_TOKENS), limit));
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
  const options: GenerateOptions = {
    ...samplingOptions(r),
    maxNewTokens: p.maxTokens,
    // Each token's logits are then read back and MTP drafting is off (src/decode/generate.ts).
    logprobs: r.logprobs,
    signal,
  };
  const prompt = { tokens: p.tokens };
  // n choices: in the batch, one prefill forked n ways (choice i samples with seed + i); alone, one generation
  // after another with the same seeds. All are created (and checked) before anything is written.
  let gens: Generation[];
  if (batcher && batchable(r)) {
    gens = r.n === 1 ? [batcher.generate(prompt, options)] : batcher.generateChoices(prompt, options, r.n);
  } else {
    const seeds = r.seed === undefined ? undefined : sampleSeeds(r.seed, r.n);
    gens = Array.from({ length: r.n }, (_, i) => engine.generate(prompt, { ...options, seed: seeds?.[i] }));
  }
  gens[0] = firstTokenHook(gens[0], hooks.onFirstToken);
  const text = tokenText(engine);
  const results = r.stream ? await stream(gens, p, res, meta, signal, text) : await collect(gens, p, res, meta, signal, text);
  return combined(results);
}

/** One result for the server's counts and metrics: the choices' tokens summed, aborted if one was. */
function combined(results: GenerateResult[]): GenerateResult {
  const last = results[results.length - 1];
  const generated = results.reduce((n, x) => n + x.stats.generatedTokens, 0);
  const aborted = results.some((x) => x.finishReason === 'aborted');
  return { ...last, finishReason: aborted ? 'aborted' : last.finishReason, stats: { ...last.stats, generatedTokens: generated } };
}

/**
 * Whether the request can step in the batch: logprobs need each token's logits read back, which the batched
 * step does not do, so those requests run alone through engine.generate (between two batch steps). A
 * reasoning budget steps in the batch (src/decode/batch.ts).
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

async function collect(gens: Generation[], p: PreparedCompletion, res: ServerResponse, meta: ResponseMeta, signal: AbortSignal, text: TokenText): Promise<GenerateResult[]> {
  const wanted = p.request.logprobs !== undefined;
  const results: GenerateResult[] = [];
  const chat: ReturnType<typeof chatChoice>[] = [];
  const plain: ReturnType<typeof textChoice>[] = [];
  for (const [index, gen] of gens.entries()) {
    const steps: StepLogprobs[] = [];
    for await (const event of gen) {
      if (signal.aborted) break;
      if (event.logprobs) steps.push(event.logprobs);
    }
    const result = await gen.result;
    results.push(result);
    if (result.finishReason === 'aborted') {
      if (isClosing(signal)) throw closingError();
      return results; // the client left: nobody is listening
    }
    const finish = finishReason(result.finishReason);
    if (p.request.endpoint === 'chat') chat.push(chatChoice(index, chatOutput(result.text, p.opensThinking), finish, wanted ? chatLogprobs(steps, text) : null));
    else plain.push(textChoice(index, result.text, finish, wanted ? textLogprobs(steps, text) : null));
  }
  const use = usage(p.tokens.length, results);
  sendJson(res, 200, p.request.endpoint === 'chat' ? chatCompletion(meta, chat, use) : textCompletion(meta, plain, use));
  return results;
}

async function stream(gens: Generation[], p: PreparedCompletion, res: ServerResponse, meta: ResponseMeta, signal: AbortSignal, text: TokenText): Promise<GenerateResult[]> {
  const chat = p.request.endpoint === 'chat';
  const sse = new SseStream(res);
  const results: GenerateResult[] = [];
  // Choices stream one after the other, each opened by its role chunk and closed by its finish chunk.
  for (const [index, gen] of gens.entries()) {
    // Tags may be split across tokens; the splitter holds a partial `</think>` back until it is sure.
    const splitter = new ThinkSplitter({ startsInThinking: p.opensThinking });
    const logprobs = new PendingLogprobs(text);
    const send = (chunks: { kind: 'reasoning' | 'content'; text: string }[]) => {
      for (const c of chunks) sse.send(chatChunk(meta, c.kind === 'content' ? { content: c.text } : { reasoning_content: c.text }, null, logprobs.takeChat(), index));
    };
    if (chat) sse.send(chatChunk(meta, { role: 'assistant', content: '' }, null, null, index));
    for await (const event of gen) {
      if (signal.aborted || !sse.open) break;
      logprobs.add(event.logprobs);
      if (!event.text) continue; // a token that completes no character yet (part of a multi-byte one)
      if (chat) send(splitter.push(event.text));
      else sse.send(textChunk(meta, event.text, null, logprobs.takeText(), index));
    }
    const result = await gen.result;
    results.push(result);
    // The server closing cuts the answer short like max_tokens does: 'length' is the reason clients know for it.
    const closing = isClosing(signal);
    if (result.finishReason === 'aborted' && !closing) return results;
    if (chat) send(splitter.end());
    const finish = closing ? 'length' : finishReason(result.finishReason);
    // Entries of tokens whose text never came out (held back, cut by a stop string) ride on the last chunk.
    sse.send(chat ? chatChunk(meta, {}, finish, logprobs.takeChat(), index) : textChunk(meta, '', finish, logprobs.takeText(), index));
    if (closing) break;
  }
  if (p.request.includeUsage) sse.send(usageChunk(meta, p.request.endpoint, usage(p.tokens.length, results)));
  sse.end();
  return results;
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
