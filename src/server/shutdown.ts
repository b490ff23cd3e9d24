// The abort reason close() gives running requests, so that they can tell a server going down (answer what
// there is, properly ended) from a client that went away (nobody left to answer).
import { ApiError } from './api-error.ts';

export class ServerClosingError extends Error {
  override name = 'ServerClosingError';
  constructor() {
    super('the server is closing');
  }
}

export function isClosing(signal: AbortSignal): boolean {
  return signal.aborted && signal.reason instanceof ServerClosingError;
}

/** What a request that has not started answering gets while the server closes. */
export function closingError(): ApiError {
  return new ApiError(503, 'The server is shutting down; the request was not completed. Try again once it is back.', null, 'server_closing');
}
