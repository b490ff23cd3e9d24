// The worker protocol end to end in one Node process: serveEngine() on one end of a MessageChannel (so every
// message is structured-cloned, as between a page and a worker), the page's WorkerEngine on the other. The
// proxy must give what the Engine gives: the same streamed tokens, chat turns, completions, error classes,
// and stop a call through its signal. browser-test/ runs the real worker bundle in Chromium.
import { MessageChannel } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError, InputError, loadModel, loadModelInWorker, serveEngine, type Engine, type LoadPhase, type MessageEndpoint, type WorkerEngine, type WorkerLike } from 'deepseek-webgpu';

/** A worker stand-in: serveEngine() on port2 loading with Node's loadModel (the embedded model for any URL). */
function inProcessWorker(): WorkerLike {
  const { port1, port2 } = new MessageChannel();
  serveEngine(port2 as unknown as MessageEndpoint, { load: (from, options) => (String(from).includes('missing') ? loadModel('/nonexistent/model', options) : loadModel(undefined, options)) });
  port1.start();
  port2.start();
  return {
    postMessage: (m) => port1.postMessage(m),
    addEventListener: (type, listener) => port1.addEventListener(type, listener as never),
    terminate: () => {
      port1.close();
      port2.close();
    },
  };
}

const greedy = { maxNewTokens: 9, temperature: 0 } as const;

describe('WorkerEngine over serveEngine()', () => {
  let local: Engine;
  let remote: WorkerEngine;
  const phases = new Set<LoadPhase>();
  beforeAll(async () => {
    local = await loadModel(undefined, { warmup: false });
    remote = await loadModelInWorker('http://example.test/model/', { worker: inProcessWorker(), onProgress: (_d, _t, phase) => phases.add(phase) });
  });
  afterAll(async () => {
    await remote?.dispose();
    await local?.dispose();
  });

  it('loads with progress phases and the model config parsed on the page side', () => {
    expect([...phases]).toEqual(['download', 'upload', 'compile']);
    expect(JSON.stringify(remote.config)).toBe(JSON.stringify(local.config));
    expect(remote.config.isMoeLayer(1)).toBe(local.config.isMoeLayer(1));
    expect(remote.generationDefaults).toEqual(local.generationDefaults);
    expect(remote.hasTokenizer).toBe(true);
  });

  it('generate streams what the engine streams, and the same result', async () => {
    const want = await local.generate('In the beginning', greedy).result;
    const gen = remote.generate('In the beginning', greedy);
    const tokens: number[] = [];
    let text = '';
    for await (const e of gen) {
      if (e.token !== null) tokens.push(e.token);
      text += e.text;
    }
    const got = await gen.result;
    expect(tokens).toEqual(want.tokens);
    expect(text).toBe(want.text);
    expect(got.tokens).toEqual(want.tokens);
    expect(got.finishReason).toBe('length');
    expect(await remote.encode('In the beginning')).toEqual(local.encode('In the beginning'));
  });

  it('chat keeps its history in the worker; chat.completions.create streams chunks', async () => {
    const chat = remote.chat({ system: 'Be brief.' });
    const first = await chat.send('In the beginning', { maxNewTokens: 4, temperature: 0 }).result;
    const second = await chat.send('And God said', { maxNewTokens: 4, temperature: 0 }).result;
    expect(second.stats.cachedTokens).toBeGreaterThan(0);
    expect((await chat.messages()).map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user', 'assistant']);
    expect((await chat.messages())[2].content).toBe(first.text);

    const whole = await remote.chat.completions.create({ messages: [{ role: 'user', content: 'In the beginning' }], max_tokens: 5, temperature: 0 });
    let streamed = '';
    for await (const c of await remote.chat.completions.create({ messages: [{ role: 'user', content: 'In the beginning' }], max_tokens: 5, temperature: 0, stream: true })) {
      streamed += c.choices[0]?.delta.content ?? '';
    }
    expect(streamed).toBe(whole.choices[0].message.content);
    expect(whole.usage.completion_tokens).toBe(5);
  });

  it('errors keep their class and message; a signal stops a generation in the worker', async () => {
    const bad = remote.generate({ tokens: [1, 99_999_999] }, greedy);
    const err = await bad.result.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/99999999/);
    await expect(remote.chat.completions.create({ messages: [], stream: true })).rejects.toThrow(InputError);

    const stop = new AbortController();
    const gen = remote.generate('In the beginning', { maxNewTokens: 60, temperature: 0, signal: stop.signal });
    let n = 0;
    for await (const e of gen) if (e.token !== null && ++n === 2) stop.abort();
    const result = await gen.result;
    expect(result.finishReason).toBe('aborted');
    expect(result.tokens.length).toBeLessThan(60);
  });

  it('a failed load rejects with the worker error class; calls after dispose() are refused', async () => {
    await expect(loadModelInWorker('http://example.test/missing/', { worker: inProcessWorker() })).rejects.toThrow(CheckpointError);
    await remote.dispose();
    await expect(remote.encode('x')).rejects.toThrow(/disposed/);
  });
});
