// engine.chat.completions.create, the OpenAI / web-llm call shape in the library: the same answer as
// generate() over the chat template, streamed or whole; usage on the last chunk; requests checked field by
// field as the server checks them; a stopped generation finishes with 'abort'.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError, loadModel, type ChatCompletionChunk, type ChatMessage, type Engine } from 'deepseek-webgpu';

const messages: ChatMessage[] = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'In the beginning' }];

describe('engine.chat.completions.create', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await loadModel();
  });
  afterAll(async () => engine?.dispose());

  it('answers as generate() does over the chat template, whole and streamed, with usage on the last chunk', async () => {
    const want = await engine.generate(messages as never, { maxNewTokens: 7, temperature: 0 }).result;
    const whole = await engine.chat.completions.create({ messages, max_tokens: 7, temperature: 0 });
    expect(whole.object).toBe('chat.completion');
    expect(whole.id).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
    expect(whole.choices).toEqual([{ index: 0, message: { role: 'assistant', content: want.text }, logprobs: null, finish_reason: 'length' }]);
    expect(whole.usage).toMatchObject({ prompt_tokens: want.stats.promptTokens, completion_tokens: 7, total_tokens: want.stats.promptTokens + 7 });
    expect(whole.usage.extra?.decode_tokens_per_s).toBeGreaterThan(0);

    const chunks: ChatCompletionChunk[] = [];
    for await (const c of await engine.chat.completions.create({ messages, max_tokens: 7, temperature: 0, stream: true, stream_options: { include_usage: true } })) chunks.push(c);
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    expect(chunks.slice(1, -2).map((c) => c.choices[0].delta.content).join('')).toBe(want.text);
    const finish = chunks.at(-2)!;
    expect(finish.choices[0]).toMatchObject({ delta: {}, finish_reason: 'length' });
    expect(finish.usage).toMatchObject({ prompt_tokens: want.stats.promptTokens, completion_tokens: 7 });
    // stream_options.include_usage: OpenAI's usage-only chunk closes the stream.
    expect(chunks.at(-1)).toMatchObject({ object: 'chat.completion.chunk', choices: [], usage: { completion_tokens: 7 } });
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
  });

  it('a stop string ends the answer before it, with finish_reason stop; a seed repeats a sampled answer', async () => {
    const free = await engine.chat.completions.create({ messages, max_tokens: 12, temperature: 0 });
    const text = free.choices[0].message.content;
    const stop = text.trim().split(/\s+/)[1];
    const stopped = await engine.chat.completions.create({ messages, max_tokens: 12, temperature: 0, stop: [stop] });
    expect(stopped.choices[0].finish_reason).toBe('stop');
    expect(stopped.choices[0].message.content).toBe(text.slice(0, text.indexOf(stop)));
    const sampled = () => engine.chat.completions.create({ messages, max_tokens: 8, temperature: 0.9, top_p: 0.9, seed: 77 });
    expect((await sampled()).choices[0].message.content).toBe((await sampled()).choices[0].message.content);
  });

  it('refuses a bad request with an InputError naming the field, before generating', async () => {
    await expect(engine.chat.completions.create({ messages, temperature: 'hot' as never })).rejects.toThrow(InputError);
    await expect(engine.chat.completions.create({ messages, temperature: 'hot' as never })).rejects.toThrow(/temperature/);
    await expect(engine.chat.completions.create({ messages: [] })).rejects.toThrow(/messages/);
    await expect(engine.chat.completions.create({ messages, max_tokens: -1 })).rejects.toThrow(/max_tokens/);
    await expect(engine.chat.completions.create({ messages, n: 2, stream: true })).rejects.toThrow(/^n: 2 choices are offered without stream only/);
    await expect(engine.chat.completions.create({ messages, n: 17 })).rejects.toThrow(/^n: /);
  });

  it('n choices: choice i as engine.generate with seed + i, usage counting the prompt once', async () => {
    const r = await engine.chat.completions.create({ messages, max_tokens: 6, temperature: 0.9, seed: 40, n: 3 });
    const want = await Promise.all([40, 41, 42].map((seed) => engine.generate(messages, { maxNewTokens: 6, temperature: 0.9, seed, speculative: 'none' }).result));
    expect(r.choices.map((c) => [c.index, c.message.content, c.finish_reason])).toEqual(want.map((w, i) => [i, w.text, 'length']));
    expect(r.usage).toMatchObject({ prompt_tokens: want[0].stats.promptTokens, completion_tokens: 18, total_tokens: want[0].stats.promptTokens + 18 });
  });

  it('a generation stopped through the signal finishes with abort', async () => {
    const stop = new AbortController();
    const chunks: ChatCompletionChunk[] = [];
    for await (const c of await engine.chat.completions.create({ messages, max_tokens: 50, temperature: 0, stream: true }, { signal: stop.signal })) {
      chunks.push(c);
      if (chunks.length === 3) stop.abort();
    }
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe('abort');
    expect(chunks.at(-1)!.usage!.completion_tokens).toBeLessThan(50);
  });
});
