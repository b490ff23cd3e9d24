// `npm run bench -- serve [--clients N] [--requests M] [--max-tokens K] [--json]`: the OpenAI-compatible
// server under load. N clients (OpenAI's official client, streaming with usage) share M chat requests,
// each client sending its next request as soon as its last one finished, against the embedded model. The
// server batches them (continuous batching, max-batch = clients) unless --no-batch, when it serves one at a
// time and a request's latency is its queue wait plus its own generation. The same requests run straight on
// the engine first, one after another: the sequential ceiling. Every request must complete: a lost one fails
// the run.
import OpenAI from 'openai';
import type { Engine } from '../../src/engine.ts';
import { loadModel } from '../../src/engine-node.ts';
import { startServer } from '../../src/server/server.ts';
import type { ChatMessage } from '../../src/tokenizer/chat-template.ts';

export interface ServeBenchOptions {
  clients: number;
  requests: number;
  maxTokens: number;
  /** Continuous batching in the server (default true). */
  batch?: boolean;
  /** Every request starts with SYSTEM_PROMPT (default false). */
  systemPrompt?: boolean;
  /** The model's prefix cache (default true). */
  prefixCache?: boolean;
}

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
}

export interface ServeBenchResult extends ServeBenchOptions {
  completed: number;
  lost: number;
  wall_s: number;
  completion_tokens: number;
  /** Completion tokens of all requests over the wall time of the whole run. */
  tokens_per_s: number;
  /** Request sent -> last chunk, ms (queue wait included). */
  latency_ms: Percentiles;
  /** Request sent -> first content chunk, ms. */
  first_token_ms: Percentiles;
  /** The same requests on the engine directly, sequentially: the ceiling for tokens_per_s. */
  engine_alone_tokens_per_s: number;
  prompt_tokens: number;
  /** Of those, what the prefix cache held (usage.prompt_tokens_details.cached_tokens). */
  cached_prompt_tokens: number;
}

const PROMPTS = ['What is a river?', 'Who was Moses?', 'What is happiness?', 'Tell me about the sea.'];

// About 300 tokens of instructions shared by every request, as an application's system prompt would be.
const SYSTEM_PROMPT = [
  'You are a patient teacher who answers questions about the natural world, history and everyday life.',
  'Answer in plain English, in short sentences, and keep to what the question asks.',
  'When a question is about a place, say where it is and what it is like: its rivers, its hills, its weather,',
  'the people who live there and what they do. When a question is about a person, say when and where they',
  'lived, what they did and why it mattered to the people around them. When a question is about an idea,',
  'give its meaning first, then an example from ordinary life, then a reason why people care about it.',
  'Never invent names, dates or numbers; if you do not know something, say so and say what you do know.',
  'Do not use lists or headings; write one or two short paragraphs. Do not repeat the question.',
  'If the question is unclear, answer the most likely meaning and say which one you chose.',
  'Be kind to the reader, who may be young or may be learning English, and prefer common words to rare ones.',
].join(' ');

/** Request i: a prompt from the list, sampled with seed i (varied but reproducible lengths). */
function request(i: number, maxTokens: number, systemPrompt = false) {
  const messages: ChatMessage[] = [...(systemPrompt ? [{ role: 'system' as const, content: SYSTEM_PROMPT }] : []), { role: 'user', content: PROMPTS[i % PROMPTS.length] }];
  return { messages, max_tokens: maxTokens, temperature: 0.8, seed: i };
}

export async function runServeBench(log: (line: string) => void, o: ServeBenchOptions): Promise<ServeBenchResult> {
  // The cache sized as `serve` sizes it: room for every client's full context (src/model/cache-size.ts).
  const engine = await loadModel(undefined, { prefixCache: o.prefixCache ?? true, cacheSequences: (o.batch ?? true) ? o.clients : 1 });
  const system = o.systemPrompt ?? false;
  try {
    await engineAlone(engine, 2, o.maxTokens, system); // warm-up: pipelines compiled before anything is timed
    const alone = await engineAlone(engine, o.requests, o.maxTokens, system);
    log(`engine alone: ${o.requests} requests, ${alone.tokens} tokens in ${alone.seconds.toFixed(2)} s = ${(alone.tokens / alone.seconds).toFixed(1)} tok/s`);

    const batch = o.batch ?? true;
    // Room for every client, running or waiting: none refused.
    const server = await startServer(engine, { port: 0, maxQueue: o.clients, maxBatch: o.clients, batch });
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    // Warm-up: batched steps of every row count compile their pipelines before anything is timed.
    // (With the prefix cache on, this also leaves the system prompt cached, as a running server would have it.)
    if (batch) await Promise.all(Array.from({ length: o.clients }, (_, i) => client.chat.completions.create({ model: server.modelId, ...request(i, o.maxTokens, system) })));
    const latencies: number[] = [];
    const firstTokens: number[] = [];
    let tokens = 0;
    let promptTokens = 0;
    let cachedTokens = 0;
    let next = 0;
    const failures: string[] = [];
    const worker = async () => {
      for (let i = next++; i < o.requests; i = next++) {
        const t0 = performance.now();
        try {
          const stream = await client.chat.completions.create({ model: server.modelId, ...request(i, o.maxTokens, system), stream: true, stream_options: { include_usage: true } });
          let first = 0;
          for await (const chunk of stream) {
            if (!first && chunk.choices[0]?.delta.content) first = performance.now() - t0;
            if (chunk.usage) {
              tokens += chunk.usage.completion_tokens;
              promptTokens += chunk.usage.prompt_tokens;
              cachedTokens += chunk.usage.prompt_tokens_details?.cached_tokens ?? 0;
            }
          }
          latencies.push(performance.now() - t0);
          firstTokens.push(first);
        } catch (e) {
          failures.push(`request ${i}: ${(e as Error).message}`);
        }
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: o.clients }, worker));
    const wall = (performance.now() - t0) / 1000;
    await server.close();

    const result: ServeBenchResult = {
      ...o,
      completed: latencies.length,
      lost: o.requests - latencies.length,
      wall_s: wall,
      completion_tokens: tokens,
      tokens_per_s: tokens / wall,
      latency_ms: percentiles(latencies),
      first_token_ms: percentiles(firstTokens),
      engine_alone_tokens_per_s: alone.tokens / alone.seconds,
      prompt_tokens: promptTokens,
      cached_prompt_tokens: cachedTokens,
    };
    const ms = (p: Percentiles) => `p50 ${p.p50.toFixed(0)} / p90 ${p.p90.toFixed(0)} / p99 ${p.p99.toFixed(0)} ms`;
    log(`server (${batch ? `continuous batching, max-batch ${o.clients}` : 'one request at a time'}): ${o.clients} clients, ${result.completed}/${o.requests} completed, ${result.lost} lost, ${tokens} tokens in ${wall.toFixed(2)} s = ${result.tokens_per_s.toFixed(1)} tok/s`);
    log(`latency      ${ms(result.latency_ms)}`);
    log(`first token  ${ms(result.first_token_ms)}`);
    log(`prompts      ${promptTokens} tokens, ${cachedTokens} of them from the prefix cache${o.prefixCache === false ? ' (off)' : ''}`);
    for (const f of failures) log(`lost: ${f}`);
    if (result.lost > 0) process.exitCode = 1;
    return result;
  } finally {
    await engine.dispose();
  }
}

/** The requests run straight on the engine, one after another. */
async function engineAlone(engine: Engine, requests: number, maxTokens: number, systemPrompt: boolean): Promise<{ tokens: number; seconds: number }> {
  let tokens = 0;
  const t0 = performance.now();
  for (let i = 0; i < requests; i++) {
    const r = request(i, maxTokens, systemPrompt);
    const gen = engine.generate(r.messages, { maxNewTokens: r.max_tokens, temperature: r.temperature, seed: r.seed });
    for await (const _ of gen);
    tokens += (await gen.result).tokens.length;
  }
  return { tokens, seconds: (performance.now() - t0) / 1000 };
}

/** Nearest-rank percentiles (with few samples p99 is the slowest request). */
function percentiles(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] : NaN);
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99) };
}
