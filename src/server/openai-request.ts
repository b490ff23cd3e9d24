// Request bodies of POST /v1/chat/completions and /v1/completions, checked field by field into one
// CompletionRequest. Every refusal is a 400 ApiError naming the field (`param`), worded like OpenAI's own
// ("Invalid type for 'temperature': expected a number, but got a string"). Fields we do not know are ignored,
// as OpenAI-compatible servers do, so clients that send extras (user, metadata, ...) keep working; OpenAI
// fields we know but cannot honour (tools, logit_bias, ...) are refused by unsupported-fields.ts. `null`
// counts as absent, since official clients send it for unset options.
import type { GenerateOptions } from '../decode/generate.ts';
import { MAX_TOP_LOGPROBS } from '../decode/logprobs.ts';
import type { ChatMessage, ChatRole } from '../tokenizer/chat-template.ts';
import { ApiError, truncateForMessage } from './api-error.ts';
import { refuseUnsupported } from './unsupported-fields.ts';

/** Which endpoint the request came through: chat messages or a raw text prompt. */
export type Endpoint = 'chat' | 'text';

export interface CompletionRequest {
  endpoint: Endpoint;
  /** Chat messages (chat), or text / token ids (text). */
  prompt: ChatMessage[] | string | { tokens: number[] };
  /** Completion token budget; undefined = the endpoint's default (decided once the prompt length is known). */
  maxTokens: number | undefined;
  temperature: number | undefined;
  topP: number | undefined;
  /** Not OpenAI's, but vLLM and llama.cpp servers take it under this name. */
  topK: number | undefined;
  /** vLLM's and llama.cpp's names too. */
  minP: number | undefined;
  repetitionPenalty: number | undefined;
  /** OpenAI's, over the generated tokens (src/decode/sampling.ts). */
  frequencyPenalty: number | undefined;
  presencePenalty: number | undefined;
  /** Already reduced into the engine's [0, 2^32); choice i uses seed + i. */
  seed: number | undefined;
  /** Choices to generate (OpenAI's `n`), one after another. */
  n: number;
  /** Extension: end R1's `<think>` section after this many tokens (src/decode/reasoning-budget.ts). */
  reasoningBudget: number | undefined;
  stop: string[];
  /** Alternatives to report per generated token with its log-probability; undefined = no logprobs. */
  logprobs: number | undefined;
  stream: boolean;
  /** stream_options.include_usage: one more chunk, with empty choices and the usage, before [DONE]. */
  includeUsage: boolean;
}

type Body = Record<string, unknown>;

/**
 * The request's sampling settings and stop strings as generate() options. A field the request leaves out stays
 * undefined, so the engine uses the model's generation_config.json (not OpenAI's defaults: temperature 1
 * would override what the model's authors chose). A penalty makes the engine decode without MTP drafts (each
 * verified row would need its own set).
 */
export function samplingOptions(r: CompletionRequest): GenerateOptions {
  return {
    temperature: r.temperature,
    topP: r.topP,
    topK: r.topK,
    minP: r.minP,
    repetitionPenalty: r.repetitionPenalty,
    frequencyPenalty: r.frequencyPenalty,
    presencePenalty: r.presencePenalty,
    seed: r.seed,
    stopStrings: r.stop,
    reasoningBudget: r.reasoningBudget,
  };
}

// Bounds on what one request may ask for, so that its cost follows from its tokens and not from how many
// entries a client can pack into a megabyte. OpenAI takes 4 stop strings; a few more do no harm.
export const MAX_STOP_STRINGS = 16;
export const MAX_STOP_LENGTH = 256;
export const MAX_MESSAGES = 2048;
export const MAX_CONTENT_PARTS = 256;
// Choices run one after another, so a request's cost grows with n: bounded like its other lists.
export const MAX_CHOICES = 16;
// Beyond this a penalty only turns every seen token's logit to ~0 or -inf; a typo (20 for 2.0) is refused.
const MAX_REPETITION_PENALTY = 10;

// OpenAI's "developer" role is the newer name of "system".
const ROLE_ALIASES: Readonly<Record<string, ChatRole>> = { system: 'system', developer: 'system', user: 'user', assistant: 'assistant' };

export function parseChatRequest(body: unknown): CompletionRequest {
  const b = asObject(body);
  const messages = required(b, 'messages');
  if (!Array.isArray(messages)) throw invalidType('messages', 'an array of messages', messages);
  if (messages.length === 0) throw invalidValue('messages', "must hold at least one message");
  if (messages.length > MAX_MESSAGES) throw invalidValue('messages', `at most ${MAX_MESSAGES} messages are taken, got ${messages.length}`);
  refuseUnsupported(b, 'chat');
  // Chat asks with a boolean and counts alternatives apart; the legacy endpoint gives the count itself.
  const top = optionalNumber(b, 'top_logprobs', { integer: true, min: 0, max: MAX_TOP_LOGPROBS });
  const wanted = optionalBoolean(b, 'logprobs') ?? false;
  if (top !== undefined && !wanted) throw invalidValue('top_logprobs', "needs 'logprobs' set to true");
  return { ...parseCommon(b), endpoint: 'chat', prompt: messages.map(parseMessage), logprobs: wanted ? (top ?? 0) : undefined };
}

export function parseTextRequest(body: unknown): CompletionRequest {
  const b = asObject(body);
  refuseUnsupported(b, 'text');
  const logprobs = optionalNumber(b, 'logprobs', { integer: true, min: 0, max: MAX_TOP_LOGPROBS });
  return { ...parseCommon(b), endpoint: 'text', prompt: parsePrompt(required(b, 'prompt')), logprobs };
}

/** The fields both endpoints share. */
function parseCommon(b: Body): Omit<CompletionRequest, 'endpoint' | 'prompt' | 'logprobs'> {
  optionalString(b, 'model'); // one model is served whatever the name; only its type is checked
  // max_completion_tokens is the newer name for max_tokens; either may come.
  const maxTokens = optionalNumber(b, 'max_tokens', { integer: true, min: 1 }) ?? optionalNumber(b, 'max_completion_tokens', { integer: true, min: 1 });
  const seed = optionalNumber(b, 'seed', { integer: true });
  const streamOptions = optional(b, 'stream_options');
  if (streamOptions !== undefined && (typeof streamOptions !== 'object' || Array.isArray(streamOptions))) {
    throw invalidType('stream_options', 'an object', streamOptions);
  }
  const stream = optionalBoolean(b, 'stream') ?? false;
  return {
    maxTokens,
    temperature: optionalNumber(b, 'temperature', { min: 0, max: 2 }),
    topP: optionalNumber(b, 'top_p', { min: 0, max: 1, minExclusive: true }),
    topK: optionalNumber(b, 'top_k', { integer: true, min: 0 }),
    minP: optionalNumber(b, 'min_p', { min: 0, max: 1, maxExclusive: true }),
    repetitionPenalty: optionalNumber(b, 'repetition_penalty', { min: 0, minExclusive: true, max: MAX_REPETITION_PENALTY }),
    frequencyPenalty: optionalNumber(b, 'frequency_penalty', { min: -2, max: 2 }),
    presencePenalty: optionalNumber(b, 'presence_penalty', { min: -2, max: 2 }),
    // OpenAI takes any 64-bit seed; the engine's generator is seeded with 32 bits, so wrap (negatives too).
    seed: seed === undefined ? undefined : ((seed % 2 ** 32) + 2 ** 32) % 2 ** 32,
    n: optionalNumber(b, 'n', { integer: true, min: 1, max: MAX_CHOICES }) ?? 1,
    reasoningBudget: optionalNumber(b, 'reasoning_budget', { integer: true, min: 0 }),
    stop: parseStop(optional(b, 'stop')),
    stream,
    includeUsage: stream && streamOptions !== undefined ? (optionalBoolean(streamOptions as Body, 'include_usage', 'stream_options.include_usage') ?? false) : false,
  };
}

function parseMessage(m: unknown, i: number): ChatMessage {
  const param = `messages[${i}]`;
  if (typeof m !== 'object' || m === null || Array.isArray(m)) throw invalidType(param, 'an object with role and content', m);
  const { role, content } = m as Body;
  if (typeof role !== 'string') throw invalidType(`${param}.role`, 'a string', role);
  const mapped = ROLE_ALIASES[role];
  if (!mapped) throw invalidValue(`${param}.role`, `'${truncateForMessage(role)}' is not a supported role: use 'system', 'developer', 'user' or 'assistant'`);
  return { role: mapped, content: parseContent(content, `${param}.content`) };
}

/** A string, or a list of text parts (what clients send for multi-part messages); images are refused. */
function parseContent(content: unknown, param: string): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw invalidType(param, 'a string or an array of text parts', content);
  if (content.length > MAX_CONTENT_PARTS) throw invalidValue(param, `at most ${MAX_CONTENT_PARTS} parts are taken, got ${content.length}`);
  return content
    .map((part, j) => {
      const p = part as Body | null;
      if (typeof p !== 'object' || p === null || p.type !== 'text') throw invalidValue(`${param}[${j}]`, "only parts of type 'text' are supported");
      if (typeof p.text !== 'string') throw invalidType(`${param}[${j}].text`, 'a string', p.text);
      return p.text;
    })
    .join('');
}

/** Text, a one-entry list of text, or token ids (OpenAI's other prompt forms). */
function parsePrompt(prompt: unknown): CompletionRequest['prompt'] {
  if (typeof prompt === 'string') return prompt;
  if (Array.isArray(prompt) && prompt.length === 1 && typeof prompt[0] === 'string') return prompt[0];
  if (Array.isArray(prompt) && prompt.length > 0 && prompt.every((t) => Number.isInteger(t) && t >= 0)) return { tokens: prompt as number[] };
  throw invalidType('prompt', 'a string, a list of one string or a non-empty list of token ids', prompt);
}

function parseStop(stop: unknown): string[] {
  if (stop === undefined) return [];
  const list = typeof stop === 'string' ? [stop] : stop;
  if (!Array.isArray(list) || !list.every((s) => typeof s === 'string')) throw invalidType('stop', 'a string or an array of strings', stop);
  if (list.length > MAX_STOP_STRINGS) throw invalidValue('stop', `at most ${MAX_STOP_STRINGS} stop strings are taken, got ${list.length}`);
  list.forEach((s: string, i) => {
    const param = typeof stop === 'string' ? 'stop' : `stop[${i}]`;
    if (s.length > MAX_STOP_LENGTH) throw invalidValue(param, `a stop string may be at most ${MAX_STOP_LENGTH} characters long, got ${s.length}`);
  });
  return list as string[];
}

function asObject(body: unknown): Body {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError(400, `The request body must be a JSON object, but got ${describe(body)}.`, null, 'invalid_type');
  }
  return body as Body;
}

function optional(b: Body, name: string): unknown {
  const v = b[name];
  return v === null ? undefined : v;
}

function required(b: Body, name: string): unknown {
  const v = optional(b, name);
  if (v === undefined) throw new ApiError(400, `Missing required parameter: '${name}'.`, name, 'missing_required_parameter');
  return v;
}

function optionalString(b: Body, name: string): string | undefined {
  const v = optional(b, name);
  if (v !== undefined && typeof v !== 'string') throw invalidType(name, 'a string', v);
  return v;
}

function optionalBoolean(b: Body, name: string, param = name): boolean | undefined {
  const v = optional(b, name);
  if (v !== undefined && typeof v !== 'boolean') throw invalidType(param, 'a boolean', v);
  return v;
}

interface NumberRule {
  integer?: boolean;
  min?: number;
  max?: number;
  /** The minimum itself is refused (top_p > 0). */
  minExclusive?: boolean;
  /** The maximum itself is refused (min_p < 1). */
  maxExclusive?: boolean;
}

function optionalNumber(b: Body, name: string, rule: NumberRule = {}): number | undefined {
  const v = optional(b, name);
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalidType(name, rule.integer ? 'an integer' : 'a number', v);
  if (rule.integer && !Number.isSafeInteger(v)) throw invalidType(name, 'an integer', v);
  const { min, max, minExclusive, maxExclusive } = rule;
  if (min !== undefined && (minExclusive ? v <= min : v < min)) throw invalidValue(name, `must be ${minExclusive ? '>' : '>='} ${min}, got ${v}`);
  if (max !== undefined && (maxExclusive ? v >= max : v > max)) throw invalidValue(name, `must be ${maxExclusive ? '<' : '<='} ${max}, got ${v}`);
  return v;
}

function invalidType(param: string, expected: string, got: unknown): ApiError {
  return new ApiError(400, `Invalid type for '${param}': expected ${expected}, but got ${describe(got)}.`, param, 'invalid_type');
}

function invalidValue(param: string, detail: string): ApiError {
  return new ApiError(400, `Invalid value for '${param}': ${detail}.`, param, 'invalid_value');
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number') return Number.isFinite(v) ? `the number ${v}` : 'a non-finite number';
  return `${/^[aeiou]/.test(typeof v) ? 'an' : 'a'} ${typeof v}`;
}
