// Engine.chat(): the history stays in the context between turns, and keeping it there is lossless: a turn's
// greedy answer is the one a fresh generation over the whole rendered conversation gives.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type ChatMessage, type Engine, type GenerateResult } from 'deepseek-webgpu';

const greedy = { maxNewTokens: 8, temperature: 0 } as const;
const SYSTEM = 'Answer in the words of the scriptures.';

describe('ChatSession', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await loadModel();
  });
  afterAll(async () => engine?.dispose());

  for (const speculative of ['none', 'mtp'] as const) {
    it(`prefills only the new part of the conversation, and answers as a fresh generation would (speculative ${speculative})`, async () => {
      const options = { ...greedy, speculative };
      const chat = engine.chat({ system: SYSTEM });
      const first = await chat.send('In the beginning', options).result;
      expect(first.stats.cachedTokens).toBe(0);
      const prompt1 = engine.encode([{ role: 'system', content: SYSTEM }, { role: 'user', content: 'In the beginning' }]);
      expect(first.stats.promptTokens).toBe(prompt1.length);
      expect(chat.messages).toEqual([
        { role: 'system', content: SYSTEM },
        { role: 'user', content: 'In the beginning' },
        { role: 'assistant', content: first.text },
      ]);

      const turn2 = chat.send('And God said', options);
      const second = await turn2.result;
      expect(turn2.dropped).toBe(0);
      const conversation: ChatMessage[] = [...chat.messages.slice(0, 3), { role: 'user', content: 'And God said' }];
      const full = engine.encode(conversation);
      expect(second.stats.promptTokens).toBe(full.length);
      // The first prompt and the answer's tokens (but the last, never appended) stay. With MTP, at most one
      // fewer (the MTP row at the last kept position needs the token after it), and no more than the MTP's
      // cache holds: its rows lag the main cache by the tokens still pending when the answer ended.
      const held = [...prompt1, ...first.tokens].slice(0, prompt1.length + first.tokens.length - 1);
      const kept = Math.min(commonPrefix(held, full), held.length);
      if (speculative === 'none') expect(second.stats.cachedTokens).toBe(kept);
      else expect(second.stats.cachedTokens).toBeLessThanOrEqual(kept - 1);
      expect(second.stats.cachedTokens).toBeGreaterThan(prompt1.length);

      const fresh = await engine.generate(conversation, options).result;
      expect(second.tokens).toEqual(fresh.tokens);
      expect(second.text).toBe(fresh.text);
    });
  }

  it('starts from an empty context when something else used the model in between', async () => {
    const chat = engine.chat();
    await chat.send('In the beginning', greedy).result;
    await engine.generate('The LORD is', greedy).result;
    const turn = await chat.send('And God said', greedy).result;
    expect(turn.stats.cachedTokens).toBe(0);
    expect(turn.tokens).toEqual((await engine.generate([...chat.messages.slice(0, -1)], greedy).result).tokens);
  });

  it('reset() keeps the system prompt; save() and load() round-trip the conversation', async () => {
    const chat = engine.chat({ system: SYSTEM });
    await chat.send('In the beginning', greedy).result;
    const saved = JSON.parse(JSON.stringify(chat.save({ temperature: 0 })));
    expect(saved).toMatchObject({ format: 'deepseek-webgpu-chat', version: 1, settings: { temperature: 0 } });
    const before = await chat.send('And God said', greedy).result;

    const other = engine.chat();
    expect(other.load(saved)).toEqual({ temperature: 0 });
    expect(other.messages).toEqual(saved.messages);
    const after = await other.send('And God said', greedy).result;
    expect(after.tokens).toEqual(before.tokens);

    other.reset();
    expect(other.messages).toEqual([{ role: 'system', content: SYSTEM }]);
    expect(() => other.load({ format: 'something else' })).toThrow(/not a saved chat/);
    expect(() => other.load({ ...saved, messages: [{ role: 'robot', content: 'x' }] })).toThrow(/saved message 0/);
  });

  it('an aborted answer keeps what was generated; one aborted before its first token is forgotten', async () => {
    const chat = engine.chat();
    const controller = new AbortController();
    const gen = chat.send('In the beginning', { maxNewTokens: 50, temperature: 0, signal: controller.signal });
    let n = 0;
    for await (const e of gen) if (e.token !== null && ++n === 3) controller.abort();
    const r: GenerateResult = await gen.result;
    expect(r.finishReason).toBe('aborted');
    expect(chat.messages.at(-1)).toEqual({ role: 'assistant', content: r.text });
    const aborted = new AbortController();
    aborted.abort();
    await chat.send('And God said', { ...greedy, signal: aborted.signal }).result;
    expect(chat.messages).toHaveLength(2);
  });
});

describe('ChatSession past the context', () => {
  it('drops the oldest turns, keeps the system prompt, and says how many messages went', async () => {
    const engine = await loadModel(undefined, { contextLength: 96 });
    try {
      const chat = engine.chat({ system: 'Be brief.' });
      const long = 'And the earth was without form, and void; and darkness was upon the face of the deep.';
      const dropped: number[] = [];
      for (let i = 0; i < 4; i++) {
        const turn = chat.send(`${i}: ${long}`, greedy);
        await turn.result;
        dropped.push(turn.dropped);
      }
      expect(dropped[0]).toBe(0);
      expect(dropped.some((d) => d > 0)).toBe(true);
      const messages = chat.messages;
      expect(messages[0]).toEqual({ role: 'system', content: 'Be brief.' });
      expect(messages[1].role).toBe('user');
      expect(messages.at(-2)!.content).toBe(`3: ${long}`);
      expect(engine.encode(messages.slice(0, -1)).length + greedy.maxNewTokens).toBeLessThanOrEqual(96);
    } finally {
      await engine.dispose();
    }
  });
});

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}
