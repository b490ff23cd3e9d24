// Continuous batching through the server: requests generating together, joining when a row frees and leaving
// when their client does, the queue's 429 beyond it, and close() ending what runs. Through OpenAI's official client.
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import type { GenerateResult } from '../decode/generate.ts';
import { startServer } from '../node.ts';
import { direct, JSON_TYPE, MESSAGES, serveTestModel, serverHealth, type Health } from './test-server.ts';

// max-batch 2, max-queue 1: two requests generate together, one waits, more are refused (the 429 test relies on it).
// The cache is sized as `serve --max-batch 2` sizes it: two full contexts.
const fx = serveTestModel({ maxQueue: 1, maxBatch: 2 }, { cacheSequences: 2 });

describe('queue and disconnects', () => {
  it('beyond max-queue, requests are refused with 429 while the others complete', async () => {
    const before = (await fx.health()).requests;
    const ask = () => fx.client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 40, temperature: 0 });
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
    const after = await fx.health();
    expect(after.requests.refused - before.refused).toBe(2);
    expect(after.requests.completed - before.completed).toBe(3);
    expect(after.queue).toMatchObject({ running: false, waiting: 0 });
    expect(after.batch).toMatchObject({ sequences: 0, max_batch: 2, pages_reserved: 0 });
  });

  it('a client that disconnects mid-stream stops its generation; the next request proceeds', async () => {
    const want = await direct(fx.engine, MESSAGES, 8);
    const before = (await fx.health()).requests;
    // 600 tokens would take many seconds; the abort must end it after a few.
    const stream = await fx.client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 600, temperature: 0, stream: true });
    let pieces = 0;
    try {
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta.content && ++pieces === 3) stream.controller.abort();
      }
    } catch (e) {
      expect(e).toBeInstanceOf(OpenAI.APIUserAbortError);
    }
    expect(pieces).toBe(3);
    const next = await fx.client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 8, temperature: 0 });
    expect(next.choices[0].message.content).toBe(want.text);
    const after = await fx.health();
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
    for (let i = 0; i < 3; i++) want.push(await direct(fx.engine, chat(PROMPTS[i]), budgets[i]));
    // max-batch 2: the third waits in the queue and joins the running batch once the second has finished.
    const asks = PROMPTS.map((p, i) => fx.client.chat.completions.create({ model: 'm', messages: chat(p), max_tokens: budgets[i], temperature: 0, stream: true, stream_options: { include_usage: true } }));
    const texts = await Promise.all(asks.map(async (a) => streamed(await a)));
    expect(texts).toEqual(want.map((w) => w.text));
    const ids = await fx.client.completions.create({ model: 'm', prompt: [5, 6, 7], max_tokens: 6, temperature: 0 });
    expect(ids.choices[0].text).toBe((await direct(fx.engine, { tokens: [5, 6, 7] }, 6)).text);
  });

  it('a client that leaves mid-batch frees its row; the request beside it keeps its own tokens', async () => {
    const want = await direct(fx.engine, chat(PROMPTS[1]), 16);
    const leaving = await fx.client.chat.completions.create({ model: 'm', messages: chat(PROMPTS[0]), max_tokens: 600, temperature: 0, stream: true });
    const staying = fx.client.chat.completions.create({ model: 'm', messages: chat(PROMPTS[1]), max_tokens: 16, temperature: 0 });
    try {
      await streamed(leaving, (n) => n === 2 && leaving.controller.abort());
    } catch (e) {
      expect(e).toBeInstanceOf(OpenAI.APIUserAbortError);
    }
    expect((await staying).choices[0].message.content).toBe(want.text);
    await expect.poll(async () => (await fx.health()).batch?.sequences).toBe(0);
    const metrics = await (await fetch(`${fx.server.url}/metrics`)).text();
    expect(metrics).toMatch(/^deepseek_webgpu_batch_max_sequences 2$/m);
    expect(metrics).toMatch(/^deepseek_webgpu_cache_pages \d+$/m);
  });

  it("a chat's follow-up takes its history's pages from the prefix cache: same answer, cached_tokens in usage, /health and /metrics", async () => {
    const first = [{ role: 'user' as const, content: 'Tell me about the sea, and about the rivers that run into it.' }];
    const a = await fx.client.chat.completions.create({ model: 'm', messages: first, max_tokens: 24, temperature: 0 });
    const followUp = [...first, { role: 'assistant' as const, content: a.choices[0].message.content ?? '' }, { role: 'user' as const, content: 'And the lakes?' }];
    const want = await direct(fx.engine, followUp, 8);
    const cacheNow = async () => (await fx.health()).batch!.prefix_cache as unknown as Record<string, number>;
    const before = await cacheNow();
    const b = await fx.client.chat.completions.create({ model: 'm', messages: followUp, max_tokens: 8, temperature: 0 });
    expect(b.choices[0].message.content).toBe(want.text);
    const cached = b.usage!.prompt_tokens_details!.cached_tokens!;
    expect(cached, 'whole 16-row pages of the first turn').toBeGreaterThanOrEqual(16);
    expect(cached % 16).toBe(0);
    const after = await cacheNow();
    expect(after.cached_tokens - before.cached_tokens).toBe(cached);
    expect(after.request_hits - before.request_hits).toBe(1);
    expect(after.pages).toBeGreaterThan(0);
    const metrics = await (await fetch(`${fx.server.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^deepseek_webgpu_prefix_cache_hits_total ${after.cached_tokens}$`, 'm'));
    expect(metrics).toMatch(/^deepseek_webgpu_prefix_cache_pages [1-9]\d*$/m);
  });
});

describe('shutdown', () => {
  it('close() ends a running stream with a finish chunk and [DONE] (the client raises nothing) and answers a waiting request with 503', async () => {
    const closing = await startServer(fx.engine, { port: 0, maxBatch: 1 }); // the second request waits in the queue
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
    const raw = await startServer(fx.engine, { port: 0 });
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

describe('the cache behind the batch', () => {
  const PROMPTS = ['What is a river?', 'Who was Moses?'];

  /**
   * Two chat requests without max_tokens, streaming: /health once each has its first token (both in the batch
   * then), after which the clients leave.
   */
  async function healthWithTwoRunning(client: OpenAI, url: string): Promise<Health> {
    const streams = await Promise.all(PROMPTS.map((content) => client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content }], temperature: 0, stream: true })));
    const started = streams.map(async (stream) => {
      for await (const chunk of stream) if (chunk.choices[0]?.delta.content) return;
    });
    await Promise.all(started);
    const health = await serverHealth(url);
    for (const stream of streams) stream.controller.abort();
    await expect.poll(async () => (await serverHealth(url)).batch?.sequences).toBe(0);
    return health;
  }

  it('sized for --max-batch full contexts, two requests without max_tokens generate together', async () => {
    const health = await healthWithTwoRunning(fx.client, fx.server.url);
    expect(health.cache).toEqual({ tokens: 2048, pages: 128, page_size: 16, context_length: 1024, row_tokens: 1024 });
    // Each reserves a whole context (the prompt and the 1024 - prompt tokens left to it): 64 pages.
    expect(health.batch).toMatchObject({ sequences: 2, waiting_for_room: 0, pages_reserved: 128 });
  });

  it('with more rows than whole contexts, a request without max_tokens takes its row’s share: cache / max-batch', async () => {
    const four = await startServer(fx.engine, { port: 0, maxBatch: 4 });
    try {
      const client = new OpenAI({ baseURL: `${four.url}/v1`, apiKey: 'unused', maxRetries: 0 });
      const health = await healthWithTwoRunning(client, four.url);
      expect(health.cache).toMatchObject({ tokens: 2048, pages: 128, row_tokens: 512 });
      expect(health.batch).toMatchObject({ sequences: 2, waiting_for_room: 0, pages_reserved: 2 * 32 });
    } finally {
      await four.close();
    }
  });
});
