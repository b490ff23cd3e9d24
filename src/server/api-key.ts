// `Authorization: Bearer <key>` as OpenAI's clients send it. The comparison takes the same time whatever the
// key sent, so the time of a refusal tells nothing about how much of the key was right.
import { createHash, timingSafeEqual } from 'node:crypto';
import { ApiError } from './api-error.ts';

export class ApiKeyCheck {
  private readonly digest: Buffer;

  constructor(key: string) {
    if (key === '') throw new RangeError('apiKey must not be empty');
    this.digest = sha256(key);
  }

  /** Throws the 401 OpenAI answers with unless `authorization` carries the key. */
  check(authorization: string | undefined): void {
    const match = /^bearer[ \t]+(.*?)[ \t]*$/i.exec(authorization ?? '');
    // Hashing first gives equal lengths for timingSafeEqual, and the length of the key does not leak either.
    if (match && timingSafeEqual(sha256(match[1]), this.digest)) return;
    const message = match
      ? 'Incorrect API key provided.'
      : "You didn't provide an API key: send it as 'Authorization: Bearer YOUR_KEY' (OpenAI clients do so with their apiKey option).";
    throw new ApiError(401, message, null, 'invalid_api_key');
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
