// The server's answers end to end, through OpenAI's official client (its SSE parsing and error classes):
// chat and text completions, streaming and not, sampling settings, n choices, reasoning_budget, logprobs and R1
// reasoning. Greedy output through the server must equal engine.generate's. The model's generation_config.json
// asks for sampling, so requests that compare text ask for greedy (temperature 0).
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL_DIR, Engine, nodeFolder, startServer, type OpenAiServer } from '../node.ts';
import { direct, JSON_TYPE, MESSAGES, serveTestModel, withChatTemplate } from './test-server.ts';

// max-batch 2, max-queue 1, as every server test file's server.
const fx = serveTestModel({ maxQueue: 1, maxBatch: 2 });

describe('answers', () => {
  it('GET /v1/models and /health', async () => {
    const models = await fx.client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['tiny-v3-trained']);
    expect((await fx.health()).status).toBe('ok');
  });

  it('chat, non-streaming: greedy content equals engine.generate, with usage', async () => {
    const want = await direct(fx.engine, MESSAGES, 12);
    const r = await fx.client.chat.completions.create({ model: 'tiny-v3-trained', messages: MESSAGES, max_tokens: 12, temperature: 0 });
    expect(r.object).toBe('chat.completion');
    expect(r.id).toMatch(/^chatcmpl-/);
    expect(r.model).toBe('tiny-v3-trained');
    expect(r.choices[0].message).toEqual({ role: 'assistant', content: want.text });
    expect(r.choices[0].finish_reason).toBe('length');
    const promptTokens = fx.engine.encode(MESSAGES).length;
    expect(r.usage).toEqual({ prompt_tokens: promptTokens, completion_tokens: 12, total_tokens: promptTokens + 12, prompt_tokens_details: { cached_tokens: 0 } });
  });

  it('chat, streaming: role first, deltas add up to the greedy text, finish then usage chunk, then [DONE]', async () => {
    const want = await direct(fx.engine, MESSAGES, 12);
    const stream = await fx.client.chat.completions.create({ messages: MESSAGES, model: 'm', max_tokens: 12, temperature: 0, stream: true, stream_options: { include_usage: true } });
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
    const raw = await fetch(`${fx.server.url}/v1/chat/completions`, { method: 'POST', headers: JSON_TYPE, body: JSON.stringify({ messages: MESSAGES, max_tokens: 2, stream: true }) });
    expect(raw.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect((await raw.text()).endsWith('data: [DONE]\n\n')).toBe(true);
  });

  it('completions: text and token-id prompts, streaming and not, equal engine.generate', async () => {
    const want = await direct(fx.engine, 'In the beginning', 10);
    const r = await fx.client.completions.create({ model: 'm', prompt: 'In the beginning', max_tokens: 10, temperature: 0 });
    expect(r.object).toBe('text_completion');
    expect(r.choices[0].text).toBe(want.text);
    expect(r.usage).toEqual({ prompt_tokens: 4, completion_tokens: 10, total_tokens: 14, prompt_tokens_details: { cached_tokens: 0 } });
    const stream = await fx.client.completions.create({ model: 'm', prompt: 'In the beginning', max_tokens: 10, temperature: 0, stream: true });
    const pieces: string[] = [];
    let finish: string | null = null;
    for await (const chunk of stream) {
      pieces.push(chunk.choices[0].text);
      finish = chunk.choices[0].finish_reason ?? finish;
    }
    expect(pieces.join('')).toBe(want.text);
    expect(finish).toBe('length');
    const ids = await fx.client.completions.create({ model: 'm', prompt: fx.engine.encode('In the beginning'), max_tokens: 10, temperature: 0 });
    expect(ids.choices[0].text).toBe(want.text);
  });

  it('stop strings (a string or a list) cut the text before the stop and finish with "stop"', async () => {
    const want = (await direct(fx.engine, MESSAGES, 24)).text;
    const stop = want.slice(12, 16); // somewhere in the middle of what greedy decoding writes
    const expected = want.slice(0, want.indexOf(stop));
    const r = await fx.client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 24, temperature: 0, stop: ['never-written', stop] });
    expect(r.choices[0].message.content).toBe(expected);
    expect(r.choices[0].finish_reason).toBe('stop');
    expect(r.usage!.completion_tokens).toBeLessThan(24);
    const stream = await fx.client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 24, temperature: 0, stop, stream: true });
    let text = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect([text, finish]).toEqual([expected, 'stop']);
  });

  it("a request that leaves sampling out gets the model's generation_config.json settings, not OpenAI's temperature 1", async () => {
    const model = await direct(fx.engine, MESSAGES, 8, { seed: 7 }); // the engine applies the same defaults
    const spelledOut = await direct(fx.engine, MESSAGES, 8, { temperature: 0.6, topP: 0.95, seed: 7 });
    expect(model.text).toBe(spelledOut.text);
    const r = await fx.client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 8, seed: 7 });
    expect(r.choices[0].message.content).toBe(model.text);
    // One field given: the others still come from the model (top-p 0.95 here).
    const hot = await direct(fx.engine, MESSAGES, 8, { temperature: 1.5, topP: 0.95, seed: 7 });
    const r2 = await fx.client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 8, temperature: 1.5, seed: 7 });
    expect(r2.choices[0].message.content).toBe(hot.text);
  });

  it('min_p, repetition_penalty, frequency_penalty and presence_penalty reach the sampler: the text equals engine.generate with them', async () => {
    const want = await direct(fx.engine, MESSAGES, 12, { temperature: 0, repetitionPenalty: 1.5 });
    expect(want.text).not.toBe((await direct(fx.engine, MESSAGES, 12)).text); // the penalty changes greedy output here
    const r = await fx.client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 12, temperature: 0, repetition_penalty: 1.5 } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    expect(r.choices[0].message.content).toBe(want.text);
    // Greedy output first repeats a token at its 16th: the penalties change what follows.
    const freq = await direct(fx.engine, MESSAGES, 20, { temperature: 0, frequencyPenalty: 1.5, presencePenalty: 0.5 });
    expect(freq.text).not.toBe((await direct(fx.engine, MESSAGES, 20)).text);
    const f = await fx.client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 20, temperature: 0, frequency_penalty: 1.5, presence_penalty: 0.5 });
    expect(f.choices[0].message.content).toBe(freq.text);
    const sampled = await direct(fx.engine, 'In the beginning', 10, { temperature: 1, minP: 0.2, seed: 7 });
    const t = await fx.client.completions.create({ model: 'm', prompt: 'In the beginning', max_tokens: 10, temperature: 1, seed: 7, min_p: 0.2 } as OpenAI.CompletionCreateParamsNonStreaming);
    expect(t.choices[0].text).toBe(sampled.text);
  });

  it('sampling: the same seed gives the same text, as engine.generate does', async () => {
    const want = await direct(fx.engine, MESSAGES, 8, { temperature: 0.9, seed: 7 });
    const ask = () => fx.client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 8, temperature: 0.9, seed: 7 });
    const [a, b] = [await ask(), await ask()];
    expect(a.choices[0].message.content).toBe(want.text);
    expect(b.choices[0].message.content).toBe(want.text);
  });
});

describe('n choices and the reasoning_budget extension', () => {
  it('n: choices 0..n-1, choice i as engine.generate with seed + i, streaming and not; usage counts them all', async () => {
    const want = await Promise.all([5, 6, 7].map(async (seed) => (await direct(fx.engine, 'In the beginning', 5, { temperature: 0.9, seed })).text));
    const r = await fx.client.completions.create({ model: 'm', prompt: 'In the beginning', max_tokens: 5, temperature: 0.9, seed: 5, n: 3 });
    expect(r.choices.map((c) => [c.index, c.text])).toEqual(want.map((text, i) => [i, text]));
    expect(r.usage).toEqual({ prompt_tokens: 4, completion_tokens: 15, total_tokens: 19, prompt_tokens_details: { cached_tokens: 0 } });
    const stream = await fx.client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 4, temperature: 0.9, seed: 5, n: 2, stream: true });
    const texts = ['', ''];
    const finishes: (string | null)[] = [null, null];
    for await (const chunk of stream) {
      const c = chunk.choices[0];
      texts[c.index] += c.delta.content ?? '';
      finishes[c.index] = c.finish_reason ?? finishes[c.index];
    }
    const chat = await Promise.all([5, 6].map(async (seed) => (await direct(fx.engine, MESSAGES, 4, { temperature: 0.9, seed })).text));
    expect([texts, finishes]).toEqual([chat, ['length', 'length']]);
  });

  it('reasoning_budget ends the <think> section the prompt opened after that many tokens, as the library does, in the batch', async () => {
    const prompt = 'In the beginning <think>\n';
    const want = await direct(fx.engine, prompt, 8, { temperature: 0, reasoningBudget: 2 });
    expect(want.text).toContain('</think>');
    const sampled = await Promise.all([3, 4].map(async (seed) => (await direct(fx.engine, prompt, 8, { temperature: 0.9, seed, reasoningBudget: 1 })).text));
    const steps = (await fx.health()).batch?.steps ?? 0;
    const r = await fx.client.completions.create({ model: 'm', prompt, max_tokens: 8, temperature: 0, reasoning_budget: 2 } as OpenAI.CompletionCreateParamsNonStreaming);
    expect(r.choices[0].text).toBe(want.text);
    const n = await fx.client.completions.create({ model: 'm', prompt, max_tokens: 8, temperature: 0.9, seed: 3, n: 2, reasoning_budget: 1 } as OpenAI.CompletionCreateParamsNonStreaming);
    expect(n.choices.map((c) => c.text)).toEqual(sampled);
    for (const text of sampled) expect(text).toContain('</think>');
    // Both requests stepped in the batch (alone, through engine.generate, they would take no batch step): the
    // greedy one at least 4 steps (MTP: up to 2 tokens a step), the two choices 8 after their prefill.
    expect((await fx.health()).batch!.steps - steps).toBeGreaterThanOrEqual(4 + 1 + 8);
  });
});

describe('logprobs', () => {
  /** log_softmax of each row of fx.engine.logits (a fresh pass over the whole sequence), in float64. */
  async function referenceLogprobs(tokens: number[]): Promise<number[][]> {
    const V = fx.engine.config.vocabSize;
    const all = await fx.engine.logits(tokens);
    return Array.from({ length: tokens.length }, (_, i) => {
      const row = Array.from(all.subarray(i * V, (i + 1) * V));
      const max = Math.max(...row);
      const logZ = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
      return row.map((x) => x - logZ);
    });
  }

  it("chat: each greedy token's logprob is the log-softmax of the model's logits, top_logprobs the N largest in order", async () => {
    const want = await direct(fx.engine, MESSAGES, 6); // the default (MTP) path: logprobs must not change the tokens
    const r = await fx.client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 6, temperature: 0, logprobs: true, top_logprobs: 3 });
    expect(r.choices[0].message.content).toBe(want.text);
    const content = r.choices[0].logprobs!.content!;
    expect(content).toHaveLength(6);
    const prompt = fx.engine.encode(MESSAGES);
    const ref = await referenceLogprobs([...prompt, ...want.tokens]);
    content.forEach((entry, i) => {
      const row = ref[prompt.length - 1 + i];
      expect(entry.token).toBe(fx.engine.tokenizer!.decode([want.tokens[i]]));
      expect(Math.abs(entry.logprob - row[want.tokens[i]])).toBeLessThan(1e-4);
      expect(entry.bytes).toEqual([...Buffer.from(entry.token)]);
      const order = row.map((l, id) => [l, id]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, 3);
      expect(entry.top_logprobs.map((t) => t.token)).toEqual(order.map(([, id]) => fx.engine.tokenizer!.decode([id])));
      entry.top_logprobs.forEach((t, j) => expect(Math.abs(t.logprob - order[j][0])).toBeLessThan(1e-4));
      expect(entry.top_logprobs[0].logprob).toBeCloseTo(entry.logprob, 6); // greedy: the chosen token is the top one
    });
    // Streaming: the chunks' entries add up to the same list.
    const stream = await fx.client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 6, temperature: 0, logprobs: true, top_logprobs: 3, stream: true });
    const streamed: OpenAI.ChatCompletionTokenLogprob[] = [];
    for await (const chunk of stream) streamed.push(...(chunk.choices[0]?.logprobs?.content ?? []));
    expect(streamed.map((e) => [e.token, e.logprob])).toEqual(content.map((e) => [e.token, e.logprob]));
    // Without logprobs the field stays null.
    const plain = await fx.client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 1, temperature: 0 });
    expect(plain.choices[0].logprobs).toBeNull();
  });

  it('completions: the legacy shape (tokens, token_logprobs, top_logprobs maps, text_offset)', async () => {
    const r = await fx.client.completions.create({ model: 'm', prompt: 'In the beginning', max_tokens: 4, temperature: 0, logprobs: 2 });
    const lp = r.choices[0].logprobs!;
    expect(lp.tokens!.join('')).toBe(r.choices[0].text);
    expect(lp.token_logprobs).toHaveLength(4);
    expect(lp.top_logprobs!.every((m) => Object.keys(m).length <= 2)).toBe(true);
    expect(lp.text_offset).toEqual(lp.tokens!.map((_, i) => lp.tokens!.slice(0, i).join('').length));
    const stream = await fx.client.completions.create({ model: 'm', prompt: 'In the beginning', max_tokens: 4, temperature: 0, logprobs: 2, stream: true });
    const offsets: number[] = [];
    for await (const chunk of stream) offsets.push(...(chunk.choices[0].logprobs?.text_offset ?? []));
    expect(offsets).toEqual(lp.text_offset);
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
    r1 = await Engine.load(fx.engine.gpu, withChatTemplate(nodeFolder(DEFAULT_MODEL_DIR), R1_TEMPLATE));
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
