// The server's HTTP surface: OpenAI-style errors for bad requests (through the official client's error classes and
// plain fetch, for bodies no client would send), engine failures mid-answer, the API key and CORS, /metrics, the
// chat page, and the serve command's argument checks.
import OpenAI from 'openai';
import { describe, expect, it, vi } from 'vitest';
import { buildProgram } from '../cli.ts';
import type { Generation } from '../decode/generate.ts';
import { InputError } from '../errors.ts';
import { startServer } from '../node.ts';
import { JSON_TYPE, MESSAGES, serveTestModel } from './test-server.ts';

// max-batch 2, max-queue 1, as every server test file's server.
const fx = serveTestModel({ maxQueue: 1, maxBatch: 2 });

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
    const res = await fetch(`${fx.server.url}${path}`, { method, body: payload, headers: JSON_TYPE });
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const { error } = await res.json();
    expect(Object.keys(error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(error.type).toBe('invalid_request_error');
    expect(error.message).toEqual(expect.any(String));
    expect(error.param).toBe(param);
    if (status === 405) expect(res.headers.get('allow')).toBe(path === chat ? 'POST' : 'GET');
    expect((await fx.health()).status).toBe('ok');
  });

  it('unknown fields and the defaults clients fill in are ignored', async () => {
    const res = await fetch(`${fx.server.url}${chat}`, { method: 'POST', headers: JSON_TYPE, body: body({ frobnicate: true, user: 'u', logit_bias: {}, presence_penalty: null, tools: [] }) });
    expect(res.status).toBe(200);
    expect((await res.json()).choices[0].message.content).toEqual(expect.any(String));
  });

  it("the official client raises its BadRequestError with the field's name", async () => {
    const bad = fx.client.chat.completions.create({ model: 'm', messages: MESSAGES, temperature: 'hot' as unknown as number });
    await expect(bad).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    await expect(bad).rejects.toMatchObject({ status: 400, param: 'temperature', code: 'invalid_type' });
    const tools = fx.client.chat.completions.create({ model: 'm', messages: MESSAGES, tools: [{ type: 'function', function: { name: 'f', parameters: {} } }] });
    await expect(tools).rejects.toMatchObject({ status: 400, param: 'tools', code: 'unsupported_parameter', type: 'invalid_request_error' });
    const long = fx.client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 1_000_000 });
    await expect(long).rejects.toMatchObject({ status: 400, param: 'max_tokens', code: 'context_length_exceeded' });
  });
});

describe('engine failures', () => {
  it('an error in a batched step ends the stream with an error event; the next request is served', async () => {
    // The model's batched step failing at its third call (as a lost device would); sampled, so not drafted with MTP.
    const real = fx.engine.model.decodeStep.bind(fx.engine.model);
    let calls = 0;
    const spy = vi.spyOn(fx.engine.model, 'decodeStep').mockImplementation(async (rows) => {
      if (++calls === 3) throw new Error('device lost (simulated)');
      return real(rows);
    });
    try {
      const before = (await fx.health()).requests;
      const stream = await fx.client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 12, temperature: 0.7, seed: 1, stream: true });
      let pieces = 0;
      const read = async () => {
        for await (const chunk of stream) if (chunk.choices[0]?.delta.content) pieces++;
      };
      await expect(read()).rejects.toThrow(/device lost \(simulated\)/);
      expect(pieces).toBeLessThanOrEqual(3);
      const next = await fx.client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 4, temperature: 0.7, seed: 1 });
      expect(next.choices[0].finish_reason).toBe('length');
      expect((await fx.health()).requests.failed - before.failed).toBe(1);
    } finally {
      spy.mockRestore();
    }
  });

  it('an error mid-stream ends the stream with an error event the client raises; the next request is served', async () => {
    // The engine's generation, failing after its third event (as a lost device would).
    const real = fx.engine.generate.bind(fx.engine);
    vi.spyOn(fx.engine, 'generate').mockImplementationOnce((prompt, options) => {
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
    const before = (await fx.health()).requests;
    // logprobs: the request is not batched, so it goes through engine.generate.
    const stream = await fx.client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 12, temperature: 0, stream: true, logprobs: true });
    let pieces = 0;
    const read = async () => {
      for await (const chunk of stream) if (chunk.choices[0]?.delta.content) pieces++;
    };
    await expect(read()).rejects.toThrow(/device lost \(simulated\)/);
    expect(pieces).toBe(3);
    const next = await fx.client.chat.completions.create({ model: 'm', messages: MESSAGES, max_tokens: 4, temperature: 0 });
    expect(next.choices[0].finish_reason).toBe('length');
    expect((await fx.health()).requests.failed - before.failed).toBe(1);
  });
});

describe('with an API key and CORS', () => {
  it('the official client with the key generates; with a wrong key it raises AuthenticationError; pages get CORS headers', async () => {
    const keyed = await startServer(fx.engine, { port: 0, apiKey: 'sk-test-key', corsOrigins: ['http://app.example'] });
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
    const res = await fetch(`${fx.server.url}/metrics`);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    return parseMetrics(await res.text());
  }

  it('GET /metrics counts requests by route and status, tokens and latencies in the Prometheus text format', async () => {
    const before = await scrape();
    const get = (m: Map<string, number>, k: string) => m.get(k) ?? 0;
    await fx.client.completions.create({ model: 'm', prompt: 'In the beginning', max_tokens: 3, temperature: 0 });
    await fetch(`${fx.server.url}/no-such-route`);
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
    const res = await fetch(`${fx.server.url}/`);
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
    const res2 = await fetch(`${fx.server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...JSON_TYPE, origin: fx.server.url },
      body: JSON.stringify({ messages: MESSAGES, stream: true, max_tokens: 2 }),
    });
    expect(res2.status).toBe(200);
    expect(await res2.text()).toMatch(/data: \[DONE\]\n\n$/);
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

  it('refuses a bad --cache-tokens (serve, generate, chat) before loading, and one the memory plan cannot hold naming --cache-tokens', async () => {
    const cli = (...args: string[]) => buildProgram().exitOverride().parseAsync(['node', 'deepseek-webgpu', ...args, '--quiet']);
    await expect(cli('serve', '--cache-tokens', '0')).rejects.toThrow(/--cache-tokens: expected an integer >= 1, got '0'/);
    await expect(cli('generate', '--tokens', '5', '--cache-tokens', 'many')).rejects.toThrow(/--cache-tokens: expected an integer >= 1, got 'many'/);
    await expect(cli('chat', '--cache-tokens', '-3')).rejects.toThrow(/--cache-tokens: expected an integer >= 1/);
    // 10^11 rows of 320 bytes: one layer's pool over any buffer limit; refused from the plan, before any weight is read.
    await expect(cli('serve', '--port', '0', '--cache-tokens', '100000000000')).rejects.toThrow(/^--cache-tokens: 100000000000 rows \(6250000000 pages of 16\) do not fit: .*latent cache layer 0.*At most \d+ rows fit$/);
  });
});
