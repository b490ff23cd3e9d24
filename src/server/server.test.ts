// The server end to end, through OpenAI's official client (its SSE parsing, error classes and abort) and,
// for bodies no client would send, plain fetch. The engine is the embedded tiny-v3-trained (it has a
// tokenizer and a chat template); greedy output through the server must equal engine.generate's. The model's
// generation_config.json asks for sampling, so requests that compare text ask for greedy (temperature 0).
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FolderSource } from '../checkpoint/byte-source.ts';
import { buildProgram } from '../cli.ts';
import type { GenerateOptions, GenerateResult, Generation } from '../decode/generate.ts';
import { InputError } from '../errors.ts';
import { DEFAULT_MODEL_DIR, Engine, loadModel, nodeFolder, startServer, type OpenAiServer } from '../node.ts';

const MESSAGES = [{ role: 'user' as const, content: 'What is a river?' }];
const JSON_TYPE = { 'content-type': 'application/json' };

let engine: Engine;
let server: OpenAiServer;
let client: OpenAI;

beforeAll(async () => {
  engine = await loadModel();
  // max-batch 2, max-queue 1: two requests generate together, one waits, more are refused (the 429 test relies on it).
  server = await startServer(engine, { port: 0, maxQueue: 1, maxBatch: 2 });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});

afterAll(async () => {
  await server?.close();
  await engine?.dispose();
});

/**
 * The engine's own output, greedy unless `extra` says otherwise. The server's batch samples one token per step
 * (MTP drafts only greedy requests), so a sampled request compares with generate() decoding plainly.
 */
async function direct(e: Engine, prompt: Parameters<Engine['generate']>[0], maxNewTokens: number, extra: GenerateOptions = { temperature: 0 }) {
  const sampled = extra.temperature !== 0;
  const gen = e.generate(prompt, { maxNewTokens, ...extra, ...(sampled ? { speculative: 'none' as const } : {}) });
  for await (const _ of gen);
  return gen.result;
}

async function health(url = server.url) {
  const res = await fetch(`${url}/health`);
  expect(res.status).toBe(200);
  return (await res.json()) as { status: string; queue: { running: boolean; waiting: number }; batch: Record<string, number> | null; requests: Record<string, number> };
}

describe('answers', () => {
  it('GET /v1/models and /health', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['tiny-v3-trained']);
    expect((await health()).status).toBe('ok');
  });

  it('chat, non-streaming: greedy content equals engine.generate, with usage', async () => {
    const want = await direct(engine, MESSAGES, 12);
    const r = await client.chat.completions.create({ model: 'tiny-v3-trained', messages: MESSAGES, max_tokens: 12, temperature: 0 });
    expect(r.object).toBe('chat.completion');
    expect(r.id).toMatch(/^chatcmpl-/);
    expect(r.model).toBe('tiny-v3-trained');
    expect(r.choices[0].message).toEqual({ role: 'assistant', content: want.text });
    expect(r.choices[0].finish_reason).toBe('length');
    const promptTokens = engine.encode(MESSAGES).length;
    expect(r.usage).toEqual({ prompt_tokens: promptTokens, completion_tokens: 12, total_tokens: promptTokens + 12, prompt_tokens_details: { cached_tokens: 0 } });
  });

  it('chat, streaming: role first, deltas add up to the greedy text, finish then usage chunk, then [DONE]', async () => {
    const want = await direct(engine, MESSAGES, 12);
    const stream = await client.chat.completions.create({ messages: MESSAGES, model: 'm', max_tokens: 12, temperature: 0, stream: true, stream_options: { include_usage: true } });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === chunks[0].id)).toBe(true);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(want.text);
    expect(chunks.length).toBeGreaterThan(4); // streamed piece by piece, not in one chunk
    const [finish, last] = chunks.slice(-2);
    expect(finish.choices[0].finish_reason).toBe('length');
    expect(chunks.slice(0, -2).every((c) => c.choices[0].finish_reason === null)).toBe(true);
    expect(last.choices).toEqual([]);
    expect(last.usage?.completion_tokens).toBe(12);
    // The client hides the terminator; check it on the wire once.
    const raw = await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', headers: JSON_TYPE, body: JSON.stringify({ messages: MESSAGES, max_tokens: 2, stream: true }) });
    expect(raw.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect((await raw.text()).endsWith('data: [DONE]\n\n')).toBe(true);
  });

  it('completions: text and token-id prompts, streaming and not, equal engine.generate', async () => {
    const want = await direct(engine, 'In the beginning', 10);
    const r = await client.completions.create({ model: 'm', prompt: 'In the beginning', max_tokens: 10, temperature: 0 });
    expect(r.object).toBe('text_completion');
    expect(r.choices[0].text).toBe(want.text);
    expect(r.usage).toEqual({ prompt_tokens: 4, completion_tokens: 10, total_tokens: 14, prompt_tokens_details: { cached_tokens: 0 } });
    const stream = await client.completions.create({ model: 'm', prompt: 'In the beginning', max_tokens: 10, temperature: 0, stream: true });
    const pieces: string[] = [];
    let finish: string | null = null;
    for await (const chunk of stream) {
      pieces.push(chunk.choices[0].text);
      finish = chunk.choices[0].finish_reason ?? finish;
    }
    expect(pieces.join('')).toBe(want.text);
    expect(finish).toBe('length');
    const ids = await client.completions.create({ model: 'm', prompt: engine.encode('In the beginning'), max_tokens: 10, temperature: 0 });
    expect(ids.choices[0].text).toBe(want.text);
  });

  it('stop strings (a string or a list) cut the text before the stop and finish with "stop"', async () => {
    const want = (await direct(engine, MESSAGES, 24)).text;
    const stop = want.slice(12, 16); // somewhere in the middle of what greedy decoding writes
    const expected = want.slice(0, want.indexOf(stop));
    const r = await client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 24, temperature: 0, stop: ['never-written', stop] });
    expect(r.choices[0].message.content).toBe(expected);
    expect(r.choices[0].finish_reason).toBe('stop');
    expect(r.usage!.completion_tokens).toBeLessThan(24);
    const stream = await client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 24, temperature: 0, stop, stream: true });
    let text = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect([text, finish]).toEqual([expected, 'stop']);
  });

  it("a request that leaves sampling out gets the model's generation_config.json settings, not OpenAI's temperature 1", async () => {
    const model = await direct(engine, MESSAGES, 8, { seed: 7 }); // the engine applies the same defaults
    const spelledOut = await direct(engine, MESSAGES, 8, { temperature: 0.6, topP: 0.95, seed: 7 });
    expect(model.text).toBe(spelledOut.text);
    const r = await client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 8, seed: 7 });
    expect(r.choices[0].message.content).toBe(model.text);
    // One field given: the others still come from the model (top-p 0.95 here).
    const hot = await direct(engine, MESSAGES, 8, { temperature: 1.5, topP: 0.95, seed: 7 });
    const r2 = await client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 8, temperature: 1.5, seed: 7 });
    expect(r2.choices[0].message.content).toBe(hot.text);
  });

  it('min_p, repetition_penalty, frequency_penalty and presence_penalty reach the sampler: the text equals engine.generate with them', async () => {
    const want = await direct(engine, MESSAGES, 12, { temperature: 0, repetitionPenalty: 1.5 });
    expect(want.text).not.toBe((await direct(engine, MESSAGES, 12)).text); // the penalty changes greedy output here
    const r = await client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 12, temperature: 0, repetition_penalty: 1.5 } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    expect(r.choices[0].message.content).toBe(want.text);
    // Greedy output first repeats a token at its 16th: the penalties change what follows.
    const freq = await direct(engine, MESSAGES, 20, { temperature: 0, frequencyPenalty: 1.5, presencePenalty: 0.5 });
    expect(freq.text).not.toBe((await direct(engine, MESSAGES, 20)).text);
    const f = await client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 20, temperature: 0, frequency_penalty: 1.5, presence_penalty: 0.5 });
    expect(f.choices[0].message.content).toBe(freq.text);
    const sampled = await direct(engine, 'In the beginning', 10, { temperature: 1, minP: 0.2, seed: 7 });
    const t = await client.completions.create({ model: 'm', prompt: 'In the beginning', max_tokens: 10, temperature: 1, seed: 7, min_p: 0.2 } as OpenAI.CompletionCreateParamsNonStreaming);
    expect(t.choices[0].text).toBe(sampled.text);
  });

  it('sampling: the same seed gives the same text, as engine.generate does', async () => {
    const want = await direct(engine, MESSAGES, 8, { temperature: 0.9, seed: 7 });
    const ask = () => client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 8, temperature: 0.9, seed: 7 });
    const [a, b] = [await ask(), await ask()];
    expect(a.choices[0].message.content).toBe(want.text);
    expect(b.choices[0].message.content).toBe(want.text);
  });
});

describe('n choices and the reasoning_budget extension', () => {
  it('n: choices 0..n-1, choice i as engine.generate with seed + i, streaming and not; usage counts them all', async () => {
    const want = await Promise.all([5, 6, 7].map(async (seed) => (await direct(engine, 'In the beginning', 5, { temperature: 0.9, seed })).text));
    const r = await client.completions.create({ model: 'm', prompt: 'In the beginning', max_tokens: 5, temperature: 0.9, seed: 5, n: 3 });
    expect(r.choices.map((c) => [c.index, c.text])).toEqual(want.map((text, i) => [i, text]));
    expect(r.usage).toEqual({ prompt_tokens: 4, completion_tokens: 15, total_tokens: 19, prompt_tokens_details: { cached_tokens: 0 } });
    const stream = await client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 4, temperature: 0.9, seed: 5, n: 2, stream: true });
    const texts = ['', ''];
    const finishes: (string | null)[] = [null, null];
    for await (const chunk of stream) {
      const c = chunk.choices[0];
      texts[c.index] += c.delta.content ?? '';
      finishes[c.index] = c.finish_reason ?? finishes[c.index];
    }
    const chat = await Promise.all([5, 6].map(async (seed) => (await direct(engine, MESSAGES, 4, { temperature: 0.9, seed })).text));
    expect([texts, finishes]).toEqual([chat, ['length', 'length']]);
  });

  it('reasoning_budget ends the <think> section the prompt opened after that many tokens, as the library does, in the batch', async () => {
    const prompt = 'In the beginning <think>\n';
    const want = await direct(engine, prompt, 8, { temperature: 0, reasoningBudget: 2 });
    expect(want.text).toContain('</think>');
    const sampled = await Promise.all([3, 4].map(async (seed) => (await direct(engine, prompt, 8, { temperature: 0.9, seed, reasoningBudget: 1 })).text));
    const steps = (await health()).batch?.steps ?? 0;
    const r = await client.completions.create({ model: 'm', prompt, max_tokens: 8, temperature: 0, reasoning_budget: 2 } as OpenAI.CompletionCreateParamsNonStreaming);
    expect(r.choices[0].text).toBe(want.text);
    const n = await client.completions.create({ model: 'm', prompt, max_tokens: 8, temperature: 0.9, seed: 3, n: 2, reasoning_budget: 1 } as OpenAI.CompletionCreateParamsNonStreaming);
    expect(n.choices.map((c) => c.text)).toEqual(sampled);
    for (const text of sampled) expect(text).toContain('</think>');
    // Both requests stepped in the batch (alone, through engine.generate, they would take no batch step): the
    // greedy one at least 4 steps (MTP: up to 2 tokens a step), the two choices 8 after their prefill.
    expect((await health()).batch!.steps - steps).toBeGreaterThanOrEqual(4 + 1 + 8);
  });
});

describe('bad requests get OpenAI-style errors and the server keeps serving', () => {
  const chat = '/v1/chat/completions';
  const body = (extra: object) => JSON.stringify({ messages: MESSAGES, max_tokens: 2, ...extra });
  // [what, method, path, body, status, param]
  const cases: [string, string, string, string | undefined, number, string | null][] = [
    ['malformed JSON', 'POST', chat, '{"messages": [', 400, null],
    ['an empty body', 'POST', chat, '', 400, null],
    ['a JSON array', 'POST', chat, '[1, 2]', 400, null],
    ['no messages', 'POST', chat, '{"max_tokens": 2}', 400, 'messages'],
    ['messages not an array', 'POST', chat, '{"messages": "hi"}', 400, 'messages'],
    ['an unknown role', 'POST', chat, JSON.stringify({ messages: [{ role: 'wizard', content: 'hi' }] }), 400, 'messages[0].role'],
    ['content not a string', 'POST', chat, JSON.stringify({ messages: [{ role: 'user', content: 5 }] }), 400, 'messages[0].content'],
    ['temperature as a string', 'POST', chat, body({ temperature: 'hot' }), 400, 'temperature'],
    ['temperature as a string, streaming', 'POST', chat, body({ temperature: 'hot', stream: true }), 400, 'temperature'],
    ['max_tokens not an integer', 'POST', chat, body({ max_tokens: '10' }), 400, 'max_tokens'],
    ['max_tokens beyond the context', 'POST', chat, body({ max_tokens: 5000 }), 400, 'max_tokens'],
    ['stop of the wrong type', 'POST', chat, body({ stop: 5 }), 400, 'stop'],
    ['n beyond 16', 'POST', chat, body({ n: 17 }), 400, 'n'],
    ['reasoning_budget negative', 'POST', chat, body({ reasoning_budget: -1 }), 400, 'reasoning_budget'],
    ['no prompt', 'POST', '/v1/completions', '{}', 400, 'prompt'],
    ["a token id outside the vocabulary (the engine's InputError)", 'POST', '/v1/completions', '{"prompt": [99999]}', 400, 'prompt'],
    ['a body over the size limit', 'POST', chat, body({ padding: 'x'.repeat(1_500_000) }), 413, null],
    // Once a 500: the stops were spread into Math.max's arguments.
    ['200,000 stop strings', 'POST', chat, body({ stop: Array.from({ length: 200_000 }, () => 'a') }), 400, 'stop'],
    ['JSON nested 100,000 deep', 'POST', chat, `{"messages": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`, 400, null],
    ['JSON nested 100,000 deep in an ignored field', 'POST', chat, `{"messages": ${JSON.stringify(MESSAGES)}, "extra": ${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}}`, 400, null],
    ['an unknown route', 'GET', '/v1/nothing', undefined, 404, null],
    ['an unknown route, POST', 'POST', '/v1/engines', '{}', 404, null],
    ['the wrong method on a completion route', 'GET', chat, undefined, 405, null],
    ['the wrong method on /health', 'POST', '/health', '{}', 405, null],
  ];

  it.each(cases)('%s: %s %s -> %i', async (_what, method, path, payload, status, param) => {
    const res = await fetch(`${server.url}${path}`, { method, body: payload, headers: JSON_TYPE });
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const { error } = await res.json();
    expect(Object.keys(error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(error.type).toBe('invalid_request_error');
    expect(error.message).toEqual(expect.any(String));
    expect(error.param).toBe(param);
    if (status === 405) expect(res.headers.get('allow')).toBe(path === chat ? 'POST' : 'GET');
    expect((await health()).status).toBe('ok');
  });

  it('unknown fields and the defaults clients fill in are ignored', async () => {
    const res = await fetch(`${server.url}${chat}`, { method: 'POST', headers: JSON_TYPE, body: body({ frobnicate: true, user: 'u', logit_bias: {}, presence_penalty: null, tools: [] }) });
    expect(res.status).toBe(200);
    expect((await res.json()).choices[0].message.content).toEqual(expect.any(String));
  });

  it("the official client raises its BadRequestError with the field's name", async () => {
    const bad = client.chat.completions.create({ model: 'm', messages: MESSAGES, temperature: 'hot' as unknown as number });
    await expect(bad).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    await expect(bad).rejects.toMatchObject({ status: 400, param: 'temperature', code: 'invalid_type' });
    const tools = client.chat.completions.create({ model: 'm', messages: MESSAGES, tools: [{ type: 'function', function: { name: 'f', parameters: {} } }] });
    await expect(tools).rejects.toMatchObject({ status: 400, param: 'tools', code: 'unsupported_parameter', type: 'invalid_request_error' });
    const long = client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 1_000_000 });
    await expect(long).rejects.toMatchObject({ status: 400, param: 'max_tokens', code: 'context_length_exceeded' });
  });
});

describe('queue and disconnects', () => {
  it('beyond max-queue, requests are refused with 429 while the others complete', async () => {
    const before = (await health()).requests;
    const ask = () => client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 40, temperature: 0 });
    const settled = await Promise.allSettled([ask(), ask(), ask(), ask(), ask()]); // 2 run, 1 waits, 2 refused
    const done = settled.filter((s) => s.status === 'fulfilled');
    const refused = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason] : []));
    expect(done.length).toBe(3);
    for (const r of done) expect(r.value.usage?.completion_tokens).toBe(40);
    expect(refused.length).toBe(2);
    for (const e of refused) {
      expect(e).toBeInstanceOf(OpenAI.RateLimitError);
      expect(e).toMatchObject({ status: 429, code: 'queue_full', type: 'rate_limit_error' });
    }
    const after = await health();
    expect(after.requests.refused - before.refused).toBe(2);
    expect(after.requests.completed - before.completed).toBe(3);
    expect(after.queue).toMatchObject({ running: false, waiting: 0 });
    expect(after.batch).toMatchObject({ sequences: 0, max_batch: 2, pages_reserved: 0 });
  });

  it('a client that disconnects mid-stream stops its generation; the next request proceeds', async () => {
    const want = await direct(engine, MESSAGES, 8);
    const before = (await health()).requests;
    // 600 tokens would take many seconds; the abort must end it after a few.
    const stream = await client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 600, temperature: 0, stream: true });
    let pieces = 0;
    try {
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta.content && ++pieces === 3) stream.controller.abort();
      }
    } catch (e) {
      expect(e).toBeInstanceOf(OpenAI.APIUserAbortError);
    }
    expect(pieces).toBe(3);
    const next = await client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 8, temperature: 0 });
    expect(next.choices[0].message.content).toBe(want.text);
    const after = await health();
    expect(after.requests.aborted - before.aborted).toBe(1); // ended early ('length' would count as completed)
    expect(after.requests.completed - before.completed).toBe(1);
    expect(after.requests.failed).toBe(0);
  });
});

describe('continuous batching', () => {
  const PROMPTS = ['What is a river?', 'Who was Moses?', 'Tell me about the sea.'];
  const chat = (content: string) => [{ role: 'user' as const, content }];

  async function streamed(stream: AsyncIterable<OpenAI.ChatCompletionChunk>, onPiece?: (n: number) => void) {
    let text = '';
    let pieces = 0;
    for await (const chunk of stream) {
      const piece = chunk.choices[0]?.delta.content;
      if (piece) {
        text += piece;
        onPiece?.(++pieces);
      }
    }
    return text;
  }

  it('concurrent greedy requests, one joining when a row frees, each get exactly the tokens of a lone engine.generate', async () => {
    const budgets = [20, 4, 9];
    const want: GenerateResult[] = [];
    for (let i = 0; i < 3; i++) want.push(await direct(engine, chat(PROMPTS[i]), budgets[i]));
    // max-batch 2: the third waits in the queue and joins the running batch once the second has finished.
    const asks = PROMPTS.map((p, i) => client.chat.completions.create({ model: 'm', messages: chat(p), max_tokens: budgets[i], temperature: 0, stream: true, stream_options: { include_usage: true } }));
    const texts = await Promise.all(asks.map(async (a) => streamed(await a)));
    expect(texts).toEqual(want.map((w) => w.text));
    const ids = await client.completions.create({ model: 'm', prompt: [5, 6, 7], max_tokens: 6, temperature: 0 });
    expect(ids.choices[0].text).toBe((await direct(engine, { tokens: [5, 6, 7] }, 6)).text);
  });

  it('a client that leaves mid-batch frees its row; the request beside it keeps its own tokens', async () => {
    const want = await direct(engine, chat(PROMPTS[1]), 16);
    const leaving = await client.chat.completions.create({ model: 'm', messages: chat(PROMPTS[0]), max_tokens: 600, temperature: 0, stream: true });
    const staying = client.chat.completions.create({ model: 'm', messages: chat(PROMPTS[1]), max_tokens: 16, temperature: 0 });
    try {
      await streamed(leaving, (n) => n === 2 && leaving.controller.abort());
    } catch (e) {
      expect(e).toBeInstanceOf(OpenAI.APIUserAbortError);
    }
    expect((await staying).choices[0].message.content).toBe(want.text);
    await expect.poll(async () => (await health()).batch?.sequences).toBe(0);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/^deepseek_webgpu_batch_max_sequences 2$/m);
    expect(metrics).toMatch(/^deepseek_webgpu_cache_pages \d+$/m);
  });

  it("a chat's follow-up takes its history's pages from the prefix cache: same answer, cached_tokens in usage, /health and /metrics", async () => {
    const first = [{ role: 'user' as const, content: 'Tell me about the sea, and about the rivers that run into it.' }];
    const a = await client.chat.completions.create({ model: 'm', messages: first, max_tokens: 24, temperature: 0 });
    const followUp = [...first, { role: 'assistant' as const, content: a.choices[0].message.content ?? '' }, { role: 'user' as const, content: 'And the lakes?' }];
    const want = await direct(engine, followUp, 8);
    const cacheNow = async () => (await health()).batch!.prefix_cache as unknown as Record<string, number>;
    const before = await cacheNow();
    const b = await client.chat.completions.create({ model: 'm', messages: followUp, max_tokens: 8, temperature: 0 });
    expect(b.choices[0].message.content).toBe(want.text);
    const cached = b.usage!.prompt_tokens_details!.cached_tokens!;
    expect(cached, 'whole 16-row pages of the first turn').toBeGreaterThanOrEqual(16);
    expect(cached % 16).toBe(0);
    const after = await cacheNow();
    expect(after.cached_tokens - before.cached_tokens).toBe(cached);
    expect(after.request_hits - before.request_hits).toBe(1);
    expect(after.pages).toBeGreaterThan(0);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^deepseek_webgpu_prefix_cache_hits_total ${after.cached_tokens}$`, 'm'));
    expect(metrics).toMatch(/^deepseek_webgpu_prefix_cache_pages [1-9]\d*$/m);
  });
});

describe('engine failures', () => {
  it('an error in a batched step ends the stream with an error event; the next request is served', async () => {
    // The model's batched step failing at its third call (as a lost device would); sampled, so not drafted with MTP.
    const real = engine.model.decodeStep.bind(engine.model);
    let calls = 0;
    const spy = vi.spyOn(engine.model, 'decodeStep').mockImplementation(async (rows) => {
      if (++calls === 3) throw new Error('device lost (simulated)');
      return real(rows);
    });
    try {
      const before = (await health()).requests;
      const stream = await client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 12, temperature: 0.7, seed: 1, stream: true });
      let pieces = 0;
      const read = async () => {
        for await (const chunk of stream) if (chunk.choices[0]?.delta.content) pieces++;
      };
      await expect(read()).rejects.toThrow(/device lost \(simulated\)/);
      expect(pieces).toBeLessThanOrEqual(3);
      const next = await client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 4, temperature: 0.7, seed: 1 });
      expect(next.choices[0].finish_reason).toBe('length');
      expect((await health()).requests.failed - before.failed).toBe(1);
    } finally {
      spy.mockRestore();
    }
  });

  it('an error mid-stream ends the stream with an error event the client raises; the next request is served', async () => {
    // The engine's generation, failing after its third event (as a lost device would).
    const real = engine.generate.bind(engine);
    vi.spyOn(engine, 'generate').mockImplementationOnce((prompt, options) => {
      const gen = real(prompt, options);
      async function* failing() {
        let n = 0;
        for await (const event of gen) {
          yield event;
          if (++n === 3) throw new Error('device lost (simulated)');
        }
      }
      return { result: gen.result, [Symbol.asyncIterator]: failing } as Generation;
    });
    const before = (await health()).requests;
    // logprobs: the request is not batched, so it goes through engine.generate.
    const stream = await client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 12, temperature: 0, stream: true, logprobs: true });
    let pieces = 0;
    const read = async () => {
      for await (const chunk of stream) if (chunk.choices[0]?.delta.content) pieces++;
    };
    await expect(read()).rejects.toThrow(/device lost \(simulated\)/);
    expect(pieces).toBe(3);
    const next = await client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 4, temperature: 0 });
    expect(next.choices[0].finish_reason).toBe('length');
    expect((await health()).requests.failed - before.failed).toBe(1);
  });
});

describe('with an API key and CORS', () => {
  it('the official client with the key generates; with a wrong key it raises AuthenticationError; pages get CORS headers', async () => {
    const keyed = await startServer(engine, { port: 0, apiKey: 'sk-test-key', corsOrigins: ['http://app.example'] });
    try {
      const good = new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: 'sk-test-key', maxRetries: 0 });
      const r = await good.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 2 });
      expect(r.usage?.completion_tokens).toBe(2);
      const bad = new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: 'sk-wrong', maxRetries: 0 });
      await expect(bad.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
      const page = await fetch(`${keyed.url}/v1/completions`, {
        method: 'POST',
        headers: { ...JSON_TYPE, authorization: 'Bearer sk-test-key', origin: 'http://app.example' },
        body: JSON.stringify({ prompt: 'In the beginning', max_tokens: 2 }),
      });
      expect(page.status).toBe(200);
      expect(page.headers.get('access-control-allow-origin')).toBe('http://app.example');
      // /metrics needs the key too; the chat page and /health do not.
      expect((await fetch(`${keyed.url}/metrics`)).status).toBe(401);
      expect((await fetch(`${keyed.url}/metrics`, { headers: { authorization: 'Bearer sk-test-key' } })).status).toBe(200);
      expect((await fetch(`${keyed.url}/`)).status).toBe(200);
    } finally {
      await keyed.close();
    }
  });
});

describe('logprobs', () => {
  /** log_softmax of each row of engine.logits (a fresh pass over the whole sequence), in float64. */
  async function referenceLogprobs(tokens: number[]): Promise<number[][]> {
    const V = engine.config.vocabSize;
    const all = await engine.logits(tokens);
    return Array.from({ length: tokens.length }, (_, i) => {
      const row = Array.from(all.subarray(i * V, (i + 1) * V));
      const max = Math.max(...row);
      const logZ = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
      return row.map((x) => x - logZ);
    });
  }

  it("chat: each greedy token's logprob is the log-softmax of the model's logits, top_logprobs the N largest in order", async () => {
    const want = await direct(engine, MESSAGES, 6); // the default (MTP) path: logprobs must not change the tokens
    const r = await client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 6, temperature: 0, logprobs: true, top_logprobs: 3 });
    expect(r.choices[0].message.content).toBe(want.text);
    const content = r.choices[0].logprobs!.content!;
    expect(content).toHaveLength(6);
    const prompt = engine.encode(MESSAGES);
    const ref = await referenceLogprobs([...prompt, ...want.tokens]);
    content.forEach((entry, i) => {
      const row = ref[prompt.length - 1 + i];
      expect(entry.token).toBe(engine.tokenizer!.decode([want.tokens[i]]));
      expect(Math.abs(entry.logprob - row[want.tokens[i]])).toBeLessThan(1e-4);
      expect(entry.bytes).toEqual([...Buffer.from(entry.token)]);
      const order = row.map((l, id) => [l, id]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, 3);
      expect(entry.top_logprobs.map((t) => t.token)).toEqual(order.map(([, id]) => engine.tokenizer!.decode([id])));
      entry.top_logprobs.forEach((t, j) => expect(Math.abs(t.logprob - order[j][0])).toBeLessThan(1e-4));
      expect(entry.top_logprobs[0].logprob).toBeCloseTo(entry.logprob, 6); // greedy: the chosen token is the top one
    });
    // Streaming: the chunks' entries add up to the same list.
    const stream = await client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 6, temperature: 0, logprobs: true, top_logprobs: 3, stream: true });
    const streamed: OpenAI.ChatCompletionTokenLogprob[] = [];
    for await (const chunk of stream) streamed.push(...(chunk.choices[0]?.logprobs?.content ?? []));
    expect(streamed.map((e) => [e.token, e.logprob])).toEqual(content.map((e) => [e.token, e.logprob]));
    // Without logprobs the field stays null.
    const plain = await client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 1, temperature: 0 });
    expect(plain.choices[0].logprobs).toBeNull();
  });

  it('completions: the legacy shape (tokens, token_logprobs, top_logprobs maps, text_offset)', async () => {
    const r = await client.completions.create({ model: 'm', prompt: 'In the beginning', max_tokens: 4, temperature: 0, logprobs: 2 });
    const lp = r.choices[0].logprobs!;
    expect(lp.tokens!.join('')).toBe(r.choices[0].text);
    expect(lp.token_logprobs).toHaveLength(4);
    expect(lp.top_logprobs!.every((m) => Object.keys(m).length <= 2)).toBe(true);
    expect(lp.text_offset).toEqual(lp.tokens!.map((_, i) => lp.tokens!.slice(0, i).join('').length));
    const stream = await client.completions.create({ model: 'm', prompt: 'In the beginning', max_tokens: 4, temperature: 0, logprobs: 2, stream: true });
    const offsets: number[] = [];
    for await (const chunk of stream) offsets.push(...(chunk.choices[0].logprobs?.text_offset ?? []));
    expect(offsets).toEqual(lp.text_offset);
  });
});

describe('metrics and the chat page', () => {
  /** `name{labels} value` samples of the exposition, after checking each family has its HELP and TYPE. */
  function parseMetrics(text: string): Map<string, number> {
    const samples = new Map<string, number>();
    const typed = new Set<string>();
    for (const line of text.trimEnd().split('\n')) {
      const type = /^# TYPE (\S+) (counter|gauge|histogram)$/.exec(line);
      if (type) typed.add(type[1]);
      if (line.startsWith('#')) continue;
      const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
      expect(m, line).not.toBeNull();
      expect(typed.has(m![1].replace(/_(bucket|sum|count)$/, '')) || typed.has(m![1]), `${m![1]} has a # TYPE`).toBe(true);
      samples.set(m![1] + (m![2] ?? ''), Number(m![3]));
    }
    return samples;
  }

  async function scrape() {
    const res = await fetch(`${server.url}/metrics`);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    return parseMetrics(await res.text());
  }

  it('GET /metrics counts requests by route and status, tokens and latencies in the Prometheus text format', async () => {
    const before = await scrape();
    const get = (m: Map<string, number>, k: string) => m.get(k) ?? 0;
    await client.completions.create({ model: 'm', prompt: 'In the beginning', max_tokens: 3, temperature: 0 });
    await fetch(`${server.url}/no-such-route`);
    const after = await scrape();
    const ok = 'deepseek_webgpu_requests_total{route="/v1/completions",code="200"}';
    expect(get(after, ok) - get(before, ok)).toBe(1);
    expect(get(after, 'deepseek_webgpu_requests_total{route="other",code="404"}') - get(before, 'deepseek_webgpu_requests_total{route="other",code="404"}')).toBe(1);
    expect(get(after, 'deepseek_webgpu_prompt_tokens_total') - get(before, 'deepseek_webgpu_prompt_tokens_total')).toBe(4);
    expect(get(after, 'deepseek_webgpu_generation_tokens_total') - get(before, 'deepseek_webgpu_generation_tokens_total')).toBe(3);
    expect(after.get('deepseek_webgpu_queue_length')).toBe(0);
    expect(after.get('deepseek_webgpu_requests_running')).toBe(0);
    for (const h of ['request_duration_seconds', 'time_to_first_token_seconds']) {
      const name = `deepseek_webgpu_${h}`;
      const count = get(after, `${name}_count{endpoint="text"}`);
      expect(count - get(before, `${name}_count{endpoint="text"}`)).toBe(1);
      expect(after.get(`${name}_bucket{endpoint="text",le="+Inf"}`)).toBe(count);
      expect(get(after, `${name}_sum{endpoint="text"}`)).toBeGreaterThan(0);
      // Buckets are cumulative: never fewer below a larger bound.
      const buckets = [...after].filter(([k]) => k.startsWith(`${name}_bucket{endpoint="text"`)).map(([, v]) => v);
      expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
    }
  });

  it('GET / serves the self-contained chat page, which streams from /v1/chat/completions', async () => {
    const res = await fetch(`${server.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toContain("connect-src 'self'");
    const html = await res.text();
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('<form id="chat">');
    expect(html).toContain('"/v1/chat/completions"');
    expect(html).toContain('tiny-v3-trained');
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//); // no external resources
    // Its script at least compiles (a typo in the template string would only show in a browser).
    const script = /<script>([\s\S]*)<\/script>/.exec(html)![1];
    expect(() => new Function(script)).not.toThrow();
    // What the page sends, as a browser sends it from that origin, is let in and streams.
    const res2 = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...JSON_TYPE, origin: server.url },
      body: JSON.stringify({ messages: MESSAGES, stream: true, max_tokens: 2 }),
    });
    expect(res2.status).toBe(200);
    expect(await res2.text()).toMatch(/data: \[DONE\]\n\n$/);
  });
});

describe('shutdown', () => {
  it('close() ends a running stream with a finish chunk and [DONE] (the client raises nothing) and answers a waiting request with 503', async () => {
    const closing = await startServer(engine, { port: 0, maxBatch: 1 }); // the second request waits in the queue
    const c = new OpenAI({ baseURL: `${closing.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const stream = await c.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 200, temperature: 0, stream: true, stream_options: { include_usage: true } });
    const waiting = c.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 2 }).then(
      () => null,
      (e: unknown) => e, // taken now: it fails while the stream is still read
    );
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    let closed: Promise<void> | null = null;
    for await (const chunk of stream) {
      chunks.push(chunk);
      if (chunks.length === 3) closed = closing.close();
    }
    await closed;
    expect(await waiting).toMatchObject({ status: 503, code: 'server_closing' });
    const finish = [...chunks].reverse().find((ch) => ch.choices[0]?.finish_reason);
    expect(finish?.choices[0].finish_reason).toBe('length');
    expect(chunks.at(-1)?.usage?.completion_tokens).toBeLessThan(200);
    // the client hides [DONE]; the wire shows it once more, on a raw request cut the same way
    const raw = await startServer(engine, { port: 0 });
    const res = await fetch(`${raw.url}/v1/completions`, { method: 'POST', headers: JSON_TYPE, body: JSON.stringify({ prompt: 'In the beginning', max_tokens: 200, stream: true }) });
    const reader = res.body!.getReader();
    await reader.read(); // the first chunk: generation is under way
    const rawClosed = raw.close();
    let text = '';
    for (let r = await reader.read(); !r.done; r = await reader.read()) text += new TextDecoder().decode(r.value);
    await rawClosed;
    expect(text).toMatch(/"finish_reason":"length".*\n\ndata: \[DONE\]\n\n$/s);
  });
});

describe('serve command', () => {
  it('refuses a bad --port or --max-queue before loading the model', async () => {
    const serve = (...args: string[]) => buildProgram().exitOverride().parseAsync(['node', 'deepseek-webgpu', 'serve', '--quiet', ...args]);
    await expect(serve('--port', 'http')).rejects.toThrow(InputError);
    await expect(serve('--port', '70000')).rejects.toThrow(/--port: expected a port number <= 65535/);
    await expect(serve('--max-queue', '-1')).rejects.toThrow(/--max-queue/);
    await expect(serve('--max-batch', '0')).rejects.toThrow(/--max-batch: expected an integer >= 1, got '0'/);
    await expect(serve('--cors', 'app.example')).rejects.toThrow(/--cors: 'app.example' is not an origin/);
    await expect(serve('--api-key', '')).rejects.toThrow(/--api-key: is empty/);
    await expect(serve('--allow-host', 'a b')).rejects.toThrow(/--allow-host/);
  });
});

describe('R1-style reasoning', () => {
  // The embedded checkpoint under a chat template whose assistant turn opens `<think>`, as R1's does.
  const R1_TEMPLATE =
    "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}{{ '<｜User｜>' + m['content'] }}{% endif %}{% endfor %}{{ '<｜Assistant｜><think>\\n' }}";
  let r1: Engine;
  let r1Server: OpenAiServer;
  let r1Client: OpenAI;

  beforeAll(async () => {
    r1 = await Engine.load(engine.gpu, withChatTemplate(nodeFolder(DEFAULT_MODEL_DIR), R1_TEMPLATE));
    r1Server = await startServer(r1, { port: 0, modelId: 'tiny-r1-style' });
    r1Client = new OpenAI({ baseURL: `${r1Server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  });

  afterAll(async () => {
    await r1Server?.close();
    await r1?.dispose();
  });

  it('comes back as reasoning_content, apart from content, streaming and not', async () => {
    const want = await direct(r1, MESSAGES, 12);
    expect(want.text).not.toContain('</think>'); // the toy model never closes its thinking in 12 tokens
    const r = await r1Client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 12, temperature: 0 });
    expect(r.choices[0].message).toEqual({ role: 'assistant', content: '', reasoning_content: want.text.trim() });
    const stream = await r1Client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 12, temperature: 0, stream: true });
    let reasoning = '';
    let content = '';
    for await (const chunk of stream) {
      const delta = (chunk.choices[0]?.delta ?? {}) as { content?: string; reasoning_content?: string };
      reasoning += delta.reasoning_content ?? '';
      content += delta.content ?? '';
    }
    expect([reasoning, content]).toEqual([want.text.trim(), '']);
  });
});

/** `base` with tokenizer_config.json's chat_template replaced. */
function withChatTemplate(base: FolderSource, template: string): FolderSource {
  return {
    name: base.name,
    open: (file) => base.open(file),
    exists: (file) => base.exists(file),
    readText: async (file) => {
      const text = await base.readText(file);
      return file === 'tokenizer_config.json' ? JSON.stringify({ ...JSON.parse(text), chat_template: template }) : text;
    },
  };
}
