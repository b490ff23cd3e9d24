// Bytes in and out of a request: the JSON body (size-limited, so one client cannot fill the memory, and
// depth-limited) and JSON answers, errors included.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, truncateForMessage } from './api-error.ts';
import { depthExceededAt } from '../json-text.ts';
import { endStreamWithError } from './sse.ts';

/** Deeper bodies are refused; OpenAI's requests nest 5 levels at most (messages, parts, a part's fields). */
export const MAX_JSON_DEPTH = 64;

/**
 * The parsed body; 415 unless it is declared as JSON, 413 past `limit` bytes, 400 when empty, not JSON or
 * nested deeper than MAX_JSON_DEPTH.
 */
export function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  // A web page may send a cross-origin POST without asking first only as text/plain, a form or with no
  // type at all; insisting on JSON closes that door (a JSON POST from another origin needs a preflight).
  const type = mediaType(req.headers['content-type']);
  if (type !== 'application/json') {
    const got = type === null ? 'no Content-Type' : `Content-Type '${truncateForMessage(type)}'`;
    return Promise.reject(new ApiError(415, `The request body must be JSON sent with 'Content-Type: application/json', but it came with ${got}.`, null, 'unsupported_media_type'));
  }
  const tooLarge = () => new ApiError(413, `The request body exceeds the server's limit of ${limit} bytes.`, null, 'request_too_large');
  if (Number(req.headers['content-length']) > limit) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Past the limit the rest is read and dropped rather than the socket cut, so the client gets the 413.
      if (size > limit) reject(tooLarge());
      else chunks.push(chunk);
    });
    // The client hung up before the end (or close() cut the connection): its fault, not the server's.
    // After 'end' has resolved the promise these change nothing.
    const cutOff = () => reject(new ApiError(400, 'The request body was cut off before its end.', null, 'incomplete_body'));
    req.on('error', cutOff);
    req.on('close', cutOff);
    req.on('end', () => {
      if (size > limit) return;
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') return reject(new ApiError(400, 'The request body is empty; expected a JSON object.', null, 'invalid_json'));
      if (depthExceededAt(text, MAX_JSON_DEPTH) >= 0) {
        return reject(new ApiError(400, `The request body nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels.`, null, 'invalid_json'));
      }
      try {
        resolve(JSON.parse(text));
      } catch (e) {
        reject(new ApiError(400, `The request body is not valid JSON: ${truncateForMessage((e as Error).message)}`, null, 'invalid_json'));
      }
    });
  });
}

/** `application/json; charset=utf-8` -> `application/json`; null when absent. */
function mediaType(header: string | undefined): string | null {
  if (header === undefined) return null;
  return header.split(';')[0].trim().toLowerCase();
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed) return; // the client is gone
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, text: string, contentType: string, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': contentType, 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

/** An error as JSON with its status, or, once a stream has begun, as its last event. */
export function sendError(res: ServerResponse, err: ApiError, headers: Record<string, string> = {}): void {
  if (res.headersSent) endStreamWithError(res, err.body());
  else sendJson(res, err.status, err.body(), headers);
}
