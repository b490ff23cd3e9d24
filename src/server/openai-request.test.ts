import { describe, expect, it } from 'vitest';
import { ApiError, toApiError } from './api-error.ts';
import { parseChatRequest, parseTextRequest } from './openai-request.ts';
import { InputError } from '../errors.ts';

const user = [{ role: 'user', content: 'hi' }];

/** The ApiError a parse throws (fails the test when it does not throw one). */
function refusal(parse: () => unknown): ApiError {
  try {
    parse();
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error('expected an ApiError');
}

describe('parseChatRequest', () => {
  it('reads the OpenAI fields, treats null as absent and ignores unknown fields', () => {
    const r = parseChatRequest({
      model: 'x',
      messages: [{ role: 'developer', content: 'be brief' }, { role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] }],
      max_tokens: 7,
      temperature: 0.5,
      top_p: 0.9,
      seed: -1,
      stop: 'END',
      stream: true,
      stream_options: { include_usage: true },
      top_k: null,
      user: 'someone',
      metadata: { a: 'b' },
      min_p: 0.05,
      repetition_penalty: 1.1,
      frequency_penalty: 0.5,
      presence_penalty: -1,
    });
    expect(r.prompt).toEqual([{ role: 'system', content: 'be brief' }, { role: 'user', content: 'ab' }]);
    expect(r).toMatchObject({ endpoint: 'chat', maxTokens: 7, temperature: 0.5, topP: 0.9, topK: undefined, stop: ['END'], stream: true, includeUsage: true });
    expect(r).toMatchObject({ minP: 0.05, repetitionPenalty: 1.1, frequencyPenalty: 0.5, presencePenalty: -1, logprobs: undefined });
    expect(r.seed).toBe(2 ** 32 - 1); // 64-bit seeds wrap into the engine's 32 bits
    expect(parseChatRequest({ messages: user, max_completion_tokens: 3 }).maxTokens).toBe(3);
    expect(parseChatRequest({ messages: user }).stop).toEqual([]);
    expect(parseChatRequest({ messages: user })).toMatchObject({ n: 1, reasoningBudget: undefined });
    expect(parseTextRequest({ prompt: 'x', n: 3, reasoning_budget: 0 })).toMatchObject({ n: 3, reasoningBudget: 0 });
  });

  it.each([
    [{}, 'messages', 'missing_required_parameter'],
    [{ messages: 'hi' }, 'messages', 'invalid_type'],
    [{ messages: [] }, 'messages', 'invalid_value'],
    [{ messages: [5] }, 'messages[0]', 'invalid_type'],
    [{ messages: [{ role: 'tool', content: 'x' }] }, 'messages[0].role', 'invalid_value'],
    [{ messages: [{ role: 'user', content: 5 }] }, 'messages[0].content', 'invalid_type'],
    [{ messages: [{ role: 'user', content: [{ type: 'image_url' }] }] }, 'messages[0].content[0]', 'invalid_value'],
    [{ messages: user, temperature: 'hot' }, 'temperature', 'invalid_type'],
    [{ messages: user, temperature: 3 }, 'temperature', 'invalid_value'],
    [{ messages: user, top_p: 0 }, 'top_p', 'invalid_value'],
    [{ messages: user, max_tokens: 0 }, 'max_tokens', 'invalid_value'],
    [{ messages: user, max_tokens: 2.5 }, 'max_tokens', 'invalid_type'],
    [{ messages: user, seed: 1.5 }, 'seed', 'invalid_type'],
    [{ messages: user, stop: [1] }, 'stop', 'invalid_type'],
    [{ messages: user, stream: 'yes' }, 'stream', 'invalid_type'],
    [{ messages: user, stream: true, stream_options: { include_usage: 1 } }, 'stream_options.include_usage', 'invalid_type'],
    [{ messages: user, n: 0 }, 'n', 'invalid_value'],
    [{ messages: user, n: 17 }, 'n', 'invalid_value'],
    [{ messages: user, n: 1.5 }, 'n', 'invalid_type'],
    [{ messages: user, reasoning_budget: -1 }, 'reasoning_budget', 'invalid_value'],
    [{ messages: user, reasoning_budget: '5' }, 'reasoning_budget', 'invalid_type'],
    [{ messages: user, model: 3 }, 'model', 'invalid_type'],
    [{ messages: user, min_p: 1 }, 'min_p', 'invalid_value'],
    [{ messages: user, repetition_penalty: 0 }, 'repetition_penalty', 'invalid_value'],
    [{ messages: user, frequency_penalty: 3 }, 'frequency_penalty', 'invalid_value'],
    [{ messages: user, top_logprobs: 21, logprobs: true }, 'top_logprobs', 'invalid_value'],
    [{ messages: user, top_logprobs: 2 }, 'top_logprobs', 'invalid_value'],
  ])('refuses %j: 400 naming %s', (body, param, code) => {
    const e = refusal(() => parseChatRequest(body));
    expect(e.status).toBe(400);
    expect(e.body().error).toMatchObject({ type: 'invalid_request_error', param, code });
    expect(e.message).toContain(param.replace(/\[.*$/, ''));
  });

  it('refuses a body that is not an object', () => {
    for (const body of [null, [], 'x', 3]) expect(refusal(() => parseChatRequest(body)).body().error.code).toBe('invalid_type');
  });
});

describe('OpenAI fields this server cannot honour', () => {
  it.each([
    ['tools', { tools: [{ type: 'function', function: { name: 'f' } }] }],
    ['tool_choice', { tool_choice: 'auto' }],
    ['functions', { functions: [{ name: 'f' }] }],
    ['function_call', { function_call: { name: 'f' } }],
    ['response_format', { response_format: { type: 'json_object' } }],
    ['logit_bias', { logit_bias: { 5: 1 } }],
    ['audio', { audio: { voice: 'alloy', format: 'wav' } }],
    ['modalities', { modalities: ['text', 'audio'] }],
    ['prediction', { prediction: { type: 'content', content: 'x' } }],
  ])('%s: 400 unsupported_parameter naming it', (param, extra) => {
    const e = refusal(() => parseChatRequest({ messages: user, ...extra }));
    expect(e.status).toBe(400);
    expect(e.body().error).toMatchObject({ type: 'invalid_request_error', param, code: 'unsupported_parameter' });
    expect(e.message).toContain(`'${param}'`);
  });

  it('passes the values clients send by default: null, empty, text format, no tool choice', () => {
    const defaults = {
      tools: [],
      tool_choice: 'none',
      logit_bias: {},
      response_format: { type: 'text' },
      modalities: ['text'],
      parallel_tool_calls: true,
      frequency_penalty: 0,
      presence_penalty: 0,
      audio: null,
      best_of: 1,
    };
    expect(parseChatRequest({ messages: user, ...defaults }).endpoint).toBe('chat');
  });

  it('completions: suffix, echo and best_of > 1 are refused; logprobs is a count', () => {
    for (const [param, extra] of [['suffix', { suffix: 'end' }], ['echo', { echo: true }], ['best_of', { best_of: 3 }]] as const) {
      expect(refusal(() => parseTextRequest({ prompt: 'a', ...extra })).body().error).toMatchObject({ param, code: 'unsupported_parameter' });
    }
    expect(parseTextRequest({ prompt: 'a', logprobs: 3, echo: false, suffix: '' }).logprobs).toBe(3);
    expect(parseChatRequest({ messages: user, logprobs: true, top_logprobs: 4 }).logprobs).toBe(4);
    expect(parseChatRequest({ messages: user, logprobs: true }).logprobs).toBe(0);
  });
});

describe('request sizes are bounded', () => {
  const many = (n: number, item: unknown) => Array.from({ length: n }, () => item);

  it.each([
    ['200,000 stop strings', 'stop', { messages: user, stop: many(200_000, 'a') }],
    ['17 stop strings', 'stop', { messages: user, stop: many(17, 'a') }],
    ['a stop string of 257 characters', 'stop', { messages: user, stop: 'x'.repeat(257) }],
    ['one long stop string in a list', 'stop[1]', { messages: user, stop: ['a', 'x'.repeat(5000)] }],
    ['2049 messages', 'messages', { messages: many(2049, { role: 'user', content: 'a' }) }],
    ['257 content parts', 'messages[0].content', { messages: [{ role: 'user', content: many(257, { type: 'text', text: 'a' }) }] }],
  ])('%s: 400 naming %s', (_what, param, body) => {
    const e = refusal(() => parseChatRequest(body));
    expect([e.status, e.param, e.code]).toEqual([400, param, 'invalid_value']);
    expect(e.message).toContain(param);
  });

  it('takes the limits themselves: 16 stop strings of 256 characters, 2048 messages, 256 parts', () => {
    expect(parseChatRequest({ messages: user, stop: many(16, 'x'.repeat(256)) }).stop).toHaveLength(16);
    expect(parseChatRequest({ messages: many(2048, { role: 'user', content: 'a' }) }).prompt).toHaveLength(2048);
    expect(parseChatRequest({ messages: [{ role: 'user', content: many(256, { type: 'text', text: 'a' }) }] }).prompt).toEqual([{ role: 'user', content: 'a'.repeat(256) }]);
  });

  it('request strings echoed in messages are cut to 120 characters', () => {
    const e = refusal(() => parseChatRequest({ messages: [{ role: 'r'.repeat(100_000), content: 'x' }] }));
    expect(e.message.length).toBeLessThan(300);
    expect(e.message).toContain('(100000 characters)');
  });
});

describe('parseTextRequest', () => {
  it('takes text, a one-string list or token ids', () => {
    expect(parseTextRequest({ prompt: 'abc' }).prompt).toBe('abc');
    expect(parseTextRequest({ prompt: ['abc'] }).prompt).toBe('abc');
    expect(parseTextRequest({ prompt: [1, 2, 3] }).prompt).toEqual({ tokens: [1, 2, 3] });
    expect(parseTextRequest({ prompt: 'a', stream: false, stream_options: { include_usage: true } }).includeUsage).toBe(false);
  });

  it('refuses a missing or malformed prompt', () => {
    expect(refusal(() => parseTextRequest({})).param).toBe('prompt');
    for (const prompt of [5, [], ['a', 'b'], [1, -2], [{}]]) expect(refusal(() => parseTextRequest({ prompt })).param).toBe('prompt');
  });
});

describe('toApiError', () => {
  it("maps the engine's InputError to 400 with its message and anything else to a 500", () => {
    const e = toApiError(new InputError('top-p', 'must be in (0, 1], got 0'));
    expect([e.status, e.param, e.message]).toEqual([400, 'top_p', 'top-p: must be in (0, 1], got 0']);
    const f = toApiError(new TypeError('x is undefined'));
    expect(f.status).toBe(500);
    expect(f.body().error.type).toBe('server_error');
  });
});
