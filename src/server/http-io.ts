// Bytes in and out of a request: the JSON body (size-limited, so one client cannot fill the memory) and
// JSON answers, errors included.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError } from './api-error.ts';
import { endStreamWithError } from './sse.ts';

/** The parsed body; 413 past `limit` bytes, 400 when empty or not JSON. */
export function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
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
      try {
        resolve(JSON.parse(text));
      } catch (e) {
        reject(new ApiError(400, `The request body is not valid JSON: ${(e as Error).message}`, null, 'invalid_json'));
      }
    });
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed) return; // the client is gone
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

/** An error as JSON with its status, or, once a stream has begun, as its last event. */
export function sendError(res: ServerResponse, err: ApiError, headers: Record<string, string> = {}): void {
  if (res.headersSent) endStreamWithError(res, err.body());
  else sendJson(res, err.status, err.body(), headers);
}
