// An OpenAI-compatible HTTP server over one Engine, on Node's own http module: routing, the request queue,
// client disconnects and error answers. What a request means lives in openai-request.ts, what it gets back
// in openai-response.ts, and the generation itself in completion.ts.
//
//   POST /v1/chat/completions   messages through the chat template (stream or one body)
//   POST /v1/completions        a raw text prompt (or token ids)
//   GET  /v1/models             the one model served
//   GET  /health                liveness, queue depth, the batch, the cache and request counts
//   GET  /metrics               the same and more for Prometheus (server-metrics.ts)
//   GET  /                      a chat page (chat-page.ts)
//
// Who may call is decided first, in access.ts: the Host header, the Origin header (CORS), the API key.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Engine, EngineBatcher } from '../engine.ts';
import { AccessGate } from './access.ts';
import { ApiError, toApiError, truncateForMessage } from './api-error.ts';
import { cacheShare, type CacheShare } from './cache-share.ts';
import { CHAT_PAGE_CSP, chatPage } from './chat-page.ts';
import { prepareCompletion, runCompletion } from './completion.ts';
import { readJsonBody, sendError, sendJson, sendText } from './http-io.ts';
import { parseChatRequest, parseTextRequest, type Endpoint } from './openai-request.ts';
import { newMeta } from './openai-response.ts';
import { QueueFullError, RequestQueue } from './queue.ts';
import { ServerMetrics } from './server-metrics.ts';
import { closingError, isClosing, ServerClosingError } from './shutdown.ts';

export interface ServerOptions {
  /** Interface to bind; default 127.0.0.1 (this machine only). */
  host?: string;
  /**
   * Names accepted in the Host header besides localhost, *.localhost, IP addresses and `host`; '*' accepts
   * any. Other names are refused with 403 (DNS rebinding). With `apiKey` any name is accepted.
   */
  allowedHosts?: string[];
  /**
   * Origins (scheme://host[:port]) whose web pages may call the API, answered with CORS headers; '*' lets any
   * page in. Default none: requests from browser pages of other origins are refused with 403.
   */
  corsOrigins?: string[];
  /** Requires `Authorization: Bearer <apiKey>` on /v1 routes and /metrics (401 otherwise); /health and the chat page stay open. */
  apiKey?: string;
  /** Default 8080; 0 picks a free port (see `port` on the result). */
  port?: number;
  /** Requests allowed to wait while the engine is full (every batch row taken); more are refused with 429. Default 16. */
  maxQueue?: number;
  /**
   * Continuous batching (the default): up to `maxBatch` requests generate together, each joining the running
   * batch at the next step and leaving when it finishes (Engine.batcher()). Default 8; with `batch: false`
   * requests generate one after another.
   */
  maxBatch?: number;
  /** false: one generation at a time (no batching). Default true. */
  batch?: boolean;
  /** Larger request bodies are refused with 413. Default 1 MiB. (Deeper than 64 levels of nesting: 400.) */
  maxBodyBytes?: number;
  /** The name /v1/models reports and responses carry; default the model folder's name. */
  modelId?: string;
  /** Called with one line per finished request (method, path, status, time); default silent. */
  log?: (line: string) => void;
}

export interface OpenAiServer {
  /** http://host:port, without a trailing slash. */
  readonly url: string;
  readonly port: number;
  readonly modelId: string;
  /** The latent cache and a batch row's share of it (what /health reports). */
  readonly cache: CacheShare;
  /**
   * Stops accepting and stops running generations: a running stream ends with a finish chunk
   * (finish_reason 'length') and [DONE], any other completion request gets a 503. Resolves once they are
   * answered; the engine stays yours to dispose.
   */
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** Serves `engine` until close(); resolves once listening. */
export async function startServer(engine: Engine, options: ServerOptions = {}): Promise<OpenAiServer> {
  const host = options.host ?? '127.0.0.1';
  const maxBodyBytes = options.maxBodyBytes ?? 1 << 20;
  const modelId = options.modelId ?? folderName(engine.folder.folder.name);
  const log = options.log;
  const maxBatch = options.batch === false ? null : (options.maxBatch ?? 8);
  // Made at the first completion request: the engine is touched only by requests that get through.
  let made: EngineBatcher | null = null;
  const batcher = () => (maxBatch === null ? null : (made ??= engine.batcher({ maxBatch })));
  // Requests without max_tokens take at most a batch row's share of the cache (cache-share.ts). Read on first use.
  let shared: CacheShare | null = null;
  const share = () => (shared ??= cacheShare(engine.model.cache.shape, maxBatch));
  const queue = new RequestQueue(options.maxQueue ?? 16, maxBatch ?? 1);
  const gate = new AccessGate({ host, allowedHosts: options.allowedHosts, corsOrigins: options.corsOrigins, apiKey: options.apiKey });
  const started = Math.floor(Date.now() / 1000);
  const counts = { completed: 0, aborted: 0, refused: 0, failed: 0 };
  const metrics = new ServerMetrics(queue, maxBatch === null ? null : () => made);
  const page = chatPage(modelId);
  let closing = false;
  /** Completion requests being handled, with their stop switch: close() aborts them and waits. */
  const inFlight = new Map<Promise<void>, AbortController>();

  async function complete(req: IncomingMessage, res: ServerResponse, endpoint: Endpoint, controller: AbortController): Promise<void> {
    // 'close' also fires after a response has been sent; only an unfinished one means the client left.
    res.once('close', () => {
      if (!res.writableFinished) controller.abort(new Error('the client disconnected'));
    });
    const t0 = performance.now();
    const seconds = () => (performance.now() - t0) / 1000;
    const onFirstToken = () => metrics.firstTokenAfter(endpoint, seconds());
    try {
      const body = await untilAborted(readJsonBody(req, maxBodyBytes), controller.signal);
      const request = endpoint === 'chat' ? parseChatRequest(body) : parseTextRequest(body);
      const prepared = prepareCompletion(engine, request, share());
      const task = () => runCompletion(engine, prepared, res, newMeta(endpoint, modelId), controller.signal, { onFirstToken }, batcher());
      const result = await queue.run(task, controller.signal);
      counts[result.finishReason === 'aborted' ? 'aborted' : 'completed']++;
      metrics.completion(endpoint, seconds(), result.stats.promptTokens, result.stats.generatedTokens);
    } catch (e) {
      if (e instanceof QueueFullError) {
        counts.refused++;
        throw new ApiError(429, `The server is busy: ${e.message}; try again later.`, null, 'queue_full');
      }
      if (controller.signal.aborted) {
        counts.aborted++; // gave up while waiting, or the engine stopped on the signal
        if (isClosing(controller.signal)) throw closingError();
        return;
      }
      throw e;
    }
  }

  const routes: Record<string, Partial<Record<string, Handler>>> = {
    '/health': {
      GET: (_req, res) =>
        sendJson(res, 200, {
          status: 'ok',
          model: modelId,
          queue: { running: queue.running, running_requests: queue.runningCount, waiting: queue.waitingCount, max_waiting: queue.maxWaiting },
          batch: batchHealth(made),
          cache: cacheHealth(share()),
          requests: counts,
        }),
    },
    '/metrics': {
      // Prometheus' text format; its scrapers send a bearer token when configured to (authorization in scrape_configs).
      GET: (_req, res) => sendText(res, 200, metrics.render(), 'text/plain; version=0.0.4; charset=utf-8'),
    },
    '/': {
      GET: (_req, res) => sendText(res, 200, page, 'text/html; charset=utf-8', { 'content-security-policy': CHAT_PAGE_CSP }),
    },
    '/v1/models': {
      GET: (_req, res) => sendJson(res, 200, { object: 'list', data: [{ id: modelId, object: 'model', created: started, owned_by: 'deepseek-webgpu' }] }),
    },
    '/v1/chat/completions': { POST: (req, res) => track(req, res, 'chat') },
    '/v1/completions': { POST: (req, res) => track(req, res, 'text') },
  };

  function track(req: IncomingMessage, res: ServerResponse, endpoint: Endpoint): Promise<void> {
    const controller = new AbortController();
    if (closing) controller.abort(new ServerClosingError()); // a keep-alive connection's request after close()
    // Done once the answer has left (close() cuts the connections next), whichever way it ends.
    const done = complete(req, res, endpoint, controller)
      .catch((e: unknown) => fail(req, res, e))
      .then(() => flushed(res))
      .finally(() => inFlight.delete(done));
    inFlight.set(done, controller);
    return done;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const t0 = performance.now();
    res.once('close', () => metrics.request(routes[path] ? path : 'other', res.statusCode));
    if (log) res.once('close', () => log(`${req.method} ${path} ${res.statusCode}${res.writableFinished ? '' : ' (client gone)'} ${(performance.now() - t0).toFixed(0)} ms`));
    try {
      if (gate.admit(req, res, path)) return;
      const route = routes[path];
      if (!route) throw new ApiError(404, `Invalid URL (${req.method} ${truncateForMessage(path)}): no such route.`, null, 'not_found');
      const handler = route[req.method ?? ''];
      if (!handler) {
        const allowed = Object.keys(route).join(', ');
        sendError(res, new ApiError(405, `Method ${req.method} is not allowed on ${truncateForMessage(path)}; use ${allowed}.`, null, 'method_not_allowed'), { allow: allowed });
        return;
      }
      await handler(req, res);
    } catch (e) {
      fail(req, res, e);
    }
  }

  function fail(req: IncomingMessage, res: ServerResponse, e: unknown): void {
    const err = toApiError(e);
    if (err.status >= 500 && !(e instanceof ApiError && e.code === 'server_closing')) {
      counts.failed++;
      log?.(`${req.method} ${(req.url ?? '/').split('?')[0]}: ${(e as Error)?.stack ?? String(e)}`);
    }
    sendError(res, err);
  }

  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    modelId,
    get cache() {
      return share();
    },
    async close() {
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const controller of inFlight.values()) controller.abort(new ServerClosingError());
      server.closeIdleConnections();
      // Generations stop within a step and answer (a stream's last chunk, a 503); the engine is then free.
      await Promise.allSettled(inFlight.keys());
      server.closeAllConnections(); // keep-alive connections, and requests whose answers are written
      await closed;
    },
  };
}

/** /health's batch fields: rows in use, requests waiting for pages, cache pages; null without batching (or before the first request). */
function batchHealth(batcher: EngineBatcher | null) {
  if (!batcher) return null;
  const o = batcher.occupancy;
  const p = o.prefixCache;
  return {
    sequences: o.sequences,
    max_batch: o.maxBatch,
    waiting_for_room: o.waiting,
    pages_in_use: o.pagesInUse,
    pages_reserved: o.pagesReserved,
    pages: o.pages,
    steps: o.steps,
    prefix_cache: p && { pages: p.pages, requests: p.lookups, request_hits: p.hits, prompt_tokens: p.lookupTokens, cached_tokens: p.reusedTokens, evicted_pages: p.evictions },
  };
}

/** /health's cache fields: its size, and what a request without max_tokens may take. */
function cacheHealth(c: CacheShare) {
  return { tokens: c.tokens, pages: c.pages, page_size: c.pageSize, context_length: c.contextLength, row_tokens: c.rowTokens };
}

/** Resolves when `res` has been handed to the OS, or the connection is gone. */
function flushed(res: ServerResponse): Promise<void> {
  if (res.writableFinished || res.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    res.once('finish', resolve);
    res.once('close', resolve);
  });
}

/** `work`, or the signal's reason once it aborts (a body still arriving when the server closes). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** `/models/tiny-v3-trained/` -> `tiny-v3-trained` (also for URLs of HTTP folders). */
function folderName(path: string): string {
  const parts = path.split(/[\\/]+/).filter(Boolean);
  return parts[parts.length - 1] ?? 'model';
}
