// Server-sent events as OpenAI streams them: `data: <json>` per chunk, a blank line after each, and a last
// `data: [DONE]`. No `event:` names or ids: official clients read only `data`.
import type { ServerResponse } from 'node:http';

export class SseStream {
  constructor(private readonly res: ServerResponse) {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no', // a reverse proxy (nginx) would otherwise hold chunks back
    });
    // One token is a few bytes: without this, Nagle's algorithm delays each chunk until the last is acked.
    res.socket?.setNoDelay(true);
    res.flushHeaders();
  }

  /** False once the client is gone; writes then go nowhere. */
  get open(): boolean {
    return !this.res.destroyed && !this.res.writableEnded;
  }

  send(data: unknown): void {
    if (this.open) this.res.write(`data: ${JSON.stringify(data)}\n\n`);
  }

  /** Ends the stream; `[DONE]` only after a complete answer (an error chunk ends without it, as OpenAI does). */
  end(done = true): void {
    if (!this.open) return;
    if (done) this.res.write('data: [DONE]\n\n');
    this.res.end();
  }
}

/** Ends a stream whose headers went out already with OpenAI's mid-stream error shape (clients throw it). */
export function endStreamWithError(res: ServerResponse, body: unknown): void {
  if (res.destroyed || res.writableEnded) return;
  res.end(`data: ${JSON.stringify(body)}\n\n`);
}
