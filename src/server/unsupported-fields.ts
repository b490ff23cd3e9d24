// OpenAI request fields this server knows but cannot honour. A client that sends one expects its effect
// (a tool call, JSON output, a biased token), so ignoring it would hand back an answer that silently is not
// what was asked for; each is refused with a 400 naming it. A field counts only with a value that asks for
// something: null, an empty list or object, false, and the value that means "the default" pass, since
// official clients and frameworks fill those in for every request.
import { ApiError } from './api-error.ts';
import type { Endpoint } from './openai-request.ts';

type Body = Record<string, unknown>;

interface Rule {
  /** Why it is refused, shown after the field's name. */
  reason: string;
  /** The value asks for something this server would not do; default: anything but null/false/empty. */
  asks?: (v: unknown) => boolean;
  /** Only on this endpoint (the other does not define the field). */
  only?: Endpoint;
}

const set = (v: unknown): boolean => {
  if (v === undefined || v === null || v === false) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
};

const NO_TOOLS = 'tool and function calling is not supported by this server';

const RULES: Readonly<Record<string, Rule>> = {
  tools: { reason: NO_TOOLS },
  tool_choice: { reason: NO_TOOLS, asks: (v) => set(v) && v !== 'none' },
  functions: { reason: NO_TOOLS },
  function_call: { reason: NO_TOOLS, asks: (v) => set(v) && v !== 'none' },
  // parallel_tool_calls only matters with tools, which are refused; clients send `true` by default.
  response_format: { reason: "only {type: 'text'} is supported (no JSON mode or schema)", asks: (v) => set(v) && (v as Body).type !== 'text' },
  logit_bias: { reason: 'token biases are not supported' },
  best_of: { reason: 'one candidate per request is generated', asks: (v) => set(v) && v !== 1 },
  suffix: { reason: 'insertion (a suffix after the completion) is not supported', only: 'text', asks: (v) => set(v) && v !== '' },
  echo: { reason: 'the prompt is not echoed back', only: 'text' },
  audio: { reason: 'audio output is not supported' },
  modalities: { reason: "only the 'text' modality is supported", asks: (v) => Array.isArray(v) && v.some((m) => m !== 'text') },
  prediction: { reason: 'predicted outputs are not supported' },
  web_search_options: { reason: 'web search is not supported' },
};

/** Throws a 400 `unsupported_parameter` for the first known field `b` sets that this server cannot honour. */
export function refuseUnsupported(b: Body, endpoint: Endpoint): void {
  for (const [name, rule] of Object.entries(RULES)) {
    if (rule.only && rule.only !== endpoint) continue;
    if (!(rule.asks ?? set)(b[name])) continue;
    throw unsupported(name, rule.reason);
  }
}

export function unsupported(param: string, reason: string): ApiError {
  return new ApiError(400, `Unsupported parameter: '${param}': ${reason}.`, param, 'unsupported_parameter');
}
