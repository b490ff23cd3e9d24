// What GET /metrics reports about this server: requests by route and status, tokens read and written, the
// queue, and how long requests and first tokens take. Names carry the `deepseek_webgpu_` prefix, as
// vLLM's carry `vllm:` and llama.cpp's `llamacpp:`.
import type { EngineBatcher } from '../engine.ts';
import { Registry, type Counter, type Histogram } from './prometheus.ts';

// From a one-token answer on a GPU to a long one on SwiftShader.
const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
// Queue wait plus prefill: short unless the queue is long or the prompt is.
const TTFT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const PREFIX = 'deepseek_webgpu_';

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter;
  private readonly promptTokens: Counter;
  private readonly generationTokens: Counter;
  private readonly latency: Histogram;
  private readonly firstToken: Histogram;

  /** `queue`: read at each scrape. */
  constructor(queue: { readonly runningCount: number; readonly waitingCount: number }, batcher: (() => EngineBatcher | null) | null = null) {
    const r = this.registry;
    this.requests = r.counter(`${PREFIX}requests_total`, 'HTTP requests answered, by route and status code.');
    this.promptTokens = r.counter(`${PREFIX}prompt_tokens_total`, 'Prompt tokens of the completion requests that generated.');
    this.generationTokens = r.counter(`${PREFIX}generation_tokens_total`, 'Tokens generated.');
    r.gauge(`${PREFIX}queue_length`, 'Completion requests waiting for the engine.', () => queue.waitingCount);
    r.gauge(`${PREFIX}requests_running`, 'Completion requests generating now (batched: up to --max-batch; else 0 or 1).', () => queue.runningCount);
    if (batcher) {
      // 0 until the first completion request makes the batcher.
      const read = (field: 'sequences' | 'maxBatch' | 'waiting' | 'pagesInUse' | 'pages') => () => batcher()?.occupancy[field] ?? 0;
      r.gauge(`${PREFIX}batch_sequences`, 'Sequences in the decode batch (running or joining at the next step).', read('sequences'));
      r.gauge(`${PREFIX}batch_max_sequences`, 'Sequences the decode batch steps together at most (--max-batch).', read('maxBatch'));
      r.gauge(`${PREFIX}batch_waiting_for_cache`, 'Admitted requests waiting for latent cache pages before they join the batch.', read('waiting'));
      r.gauge(`${PREFIX}cache_pages_in_use`, 'Pages of the paged latent cache holding sequences now.', read('pagesInUse'));
      r.gauge(`${PREFIX}cache_pages`, 'Pages of the paged latent cache in all.', read('pages'));
      const prefix = (field: 'pages' | 'lookupTokens' | 'reusedTokens' | 'hits' | 'lookups') => () => batcher()?.occupancy.prefixCache?.[field] ?? 0;
      r.gauge(`${PREFIX}prefix_cache_pages`, 'Latent cache pages the prefix cache keeps for prompts that start with their tokens.', prefix('pages'));
      r.counterReading(`${PREFIX}prefix_cache_queries_total`, 'Prompt tokens of batched requests looked up in the prefix cache.', prefix('lookupTokens'));
      r.counterReading(`${PREFIX}prefix_cache_hits_total`, 'Prompt tokens found in the prefix cache (not prefilled again).', prefix('reusedTokens'));
      r.counterReading(`${PREFIX}prefix_cache_requests_total`, 'Batched requests that looked up the prefix cache.', prefix('lookups'));
      r.counterReading(`${PREFIX}prefix_cache_request_hits_total`, 'Batched requests that found at least one page of their prompt in the prefix cache.', prefix('hits'));
    }
    this.latency = r.histogram(`${PREFIX}request_duration_seconds`, 'Completion requests from arrival to the end of the answer, by endpoint.', LATENCY_BUCKETS);
    this.firstToken = r.histogram(`${PREFIX}time_to_first_token_seconds`, 'From the arrival of a completion request to its first generated token (queue wait and prefill), by endpoint.', TTFT_BUCKETS);
  }

  /** `route`: a known path, or 'other' (the label set stays bounded whatever paths clients try). */
  request(route: string, status: number): void {
    this.requests.inc({ route, code: String(status) });
  }

  completion(endpoint: string, seconds: number, promptTokens: number, generatedTokens: number): void {
    this.latency.observe(seconds, { endpoint });
    this.promptTokens.inc({}, promptTokens);
    this.generationTokens.inc({}, generatedTokens);
  }

  firstTokenAfter(endpoint: string, seconds: number): void {
    this.firstToken.observe(seconds, { endpoint });
  }

  render(): string {
    return this.registry.render();
  }
}
