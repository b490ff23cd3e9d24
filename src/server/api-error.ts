// Errors as OpenAI's API reports them: an HTTP status and `{"error": {"message", "type", "param", "code"}}`.
// Official clients branch on the status (400 -> BadRequestError, 429 -> RateLimitError, ...) and show
// `message`, so the message names the field and what was wrong with it.
import { InputError } from '../errors.ts';

export type ApiErrorType = 'invalid_request_error' | 'rate_limit_error' | 'server_error';

export interface ApiErrorBody {
  error: { message: string; type: ApiErrorType; param: string | null; code: string | null };
}

/** A request the server answers with an error status; thrown anywhere in handling, sent by server.ts. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly type: ApiErrorType = status >= 500 ? 'server_error' : status === 429 ? 'rate_limit_error' : 'invalid_request_error',
  ) {
    super(message);
  }

  body(): ApiErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/**
 * Any error as an ApiError: the engine's InputError (a prompt that does not fit, a token id outside the
 * vocabulary, a sampling option out of range) is the client's fault, 400 with its message; anything else is
 * ours, 500 with a message that does not leak a stack.
 */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof InputError) return new ApiError(400, err.message, err.argument.replace(/-/g, '_'), 'invalid_value');
  const detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return new ApiError(500, `the engine failed: ${detail}`, null, 'internal_error');
}

/** How long a request-controlled string may get inside an error message. */
const ECHO_LIMIT = 120;

/** `s` for an error message: at most `max` characters, the cut marked (a megabyte role name stays out). */
export function truncateForMessage(s: string, max = ECHO_LIMIT): string {
  return s.length <= max ? s : `${s.slice(0, max)}... (${s.length} characters)`;
}
