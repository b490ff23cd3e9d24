// How the server shares the latent cache among its batch rows. A request that sets max_tokens reserves what it
// asked for (the batch runner admits it once its worst case of pages is free); one that leaves max_tokens out
// would reserve all the context leaves after its prompt, which with a cache smaller than --max-batch contexts
// starves every other request. So a request without max_tokens takes at most its row's share of the cache,
// prompt included: the cache's pages split evenly over --max-batch rows, as llama.cpp splits -c over -np slots.
// docs/architecture.md "Batched decoding"; README "serve".

/** The cache as /health reports it, and each row's share. */
export interface CacheShare {
  /** Rows of the cache, every sequence together. */
  tokens: number;
  pages: number;
  pageSize: number;
  /** Positions one sequence may reach. */
  contextLength: number;
  /** Rows a request without max_tokens may take, prompt included: whole pages, at least one. */
  rowTokens: number;
}

/** `maxBatch` null: requests run one at a time, and each may take the whole cache. */
export function cacheShare(shape: { pages: number; pageSize: number; maxLength: number }, maxBatch: number | null): CacheShare {
  const rowPages = Math.max(1, Math.floor(shape.pages / (maxBatch ?? 1)));
  return { tokens: shape.pages * shape.pageSize, pages: shape.pages, pageSize: shape.pageSize, contextLength: shape.maxLength, rowTokens: rowPages * shape.pageSize };
}

/**
 * The most new tokens a request without max_tokens gets from its share (at most `room`, what the context leaves):
 * the batch runner reserves min(prompt + new + 1, context) rows for it. A prompt that fills its share alone still
 * gets `floor` tokens (it then waits for the pages beyond its share).
 */
export function shareBudget(share: CacheShare, promptTokens: number, room: number, floor: number): number {
  if (share.rowTokens >= share.contextLength) return room;
  return Math.min(room, Math.max(share.rowTokens - promptTokens - 1, floor));
}
