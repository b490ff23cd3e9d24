// How many rows the paged latent cache of a load gets (ModelLoadOptions.cacheTokens / cacheSequences), decided
// against the memory plan: a caller's cacheTokens is taken as it is, and when its plan is refused because of the
// cache the error names cache-tokens and says how many rows would fit; otherwise the cache holds cacheSequences
// sequences of the full context, or as many pages as the plan allows when that is less (never under one
// context). docs/architecture.md "Batched decoding" says how the server uses it.
import { InputError } from '../errors.ts';
import { poolPages } from './kv-cache.ts';
import { planRefusal, type MemoryPlan } from './memory-plan.ts';

export interface CacheSizeOptions {
  contextLength: number;
  pageSize: number;
  /** The caller's rows, all sequences together. */
  cacheTokens?: number;
  /** Without cacheTokens: full-context sequences to make room for, as far as the plan allows; default 1. */
  cacheSequences?: number;
  /** ModelLoadOptions.memoryBudget. */
  budget?: number;
}

/** The plan of the load with `cacheTokens` rows of cache. */
export type PlanWithCache = (cacheTokens: number) => MemoryPlan;

/**
 * The cache's rows and the plan that holds them; throws what checkMemoryPlan throws when even the smallest
 * cache asked for does not fit, and InputError('cache-tokens') when only the caller's cacheTokens is too many.
 * `what` names the load in messages.
 */
export function sizeCache(planWith: PlanWithCache, o: CacheSizeOptions, what: string): { cacheTokens: number; plan: MemoryPlan } {
  const fits = (pages: number) => refusal(planWith, pages * o.pageSize, o.budget, what) === null;
  if (o.cacheTokens !== undefined) {
    const tokens = o.cacheTokens;
    if (!Number.isSafeInteger(tokens) || tokens < 1) throw new InputError('cache-tokens', `must be a positive integer, got ${tokens}`);
    const plan = planWith(tokens);
    const refused = planRefusal(plan, o.budget, what);
    if (!refused) return { cacheTokens: tokens, plan };
    const pages = poolPages(tokens, o.pageSize);
    const most = mostPages(fits, 1, pages - 1);
    if (most === null) throw refused; // not the cache's doing: no cache at all would fit either
    throw new InputError('cache-tokens', `${tokens} rows (${pages} pages of ${o.pageSize}) do not fit: ${refused.message}. At most ${most * o.pageSize} rows fit`);
  }
  const sequences = o.cacheSequences ?? 1;
  if (!Number.isSafeInteger(sequences) || sequences < 1) throw new InputError('cache-sequences', `must be a positive integer, got ${sequences}`);
  const one = poolPages(o.contextLength, o.pageSize);
  const most = sequences > 1 ? mostPages(fits, one, sequences * one) : null;
  if (most !== null) return { cacheTokens: most * o.pageSize, plan: planWith(most * o.pageSize) };
  const plan = planWith(o.contextLength);
  const refused = planRefusal(plan, o.budget, what);
  if (refused) throw refused;
  return { cacheTokens: o.contextLength, plan };
}

/** Why the plan with `tokens` rows is refused; an InputError the plan itself throws (--gpu-memory's) counts as a refusal. */
function refusal(planWith: PlanWithCache, tokens: number, budget: number | undefined, what: string): Error | null {
  try {
    return planRefusal(planWith(tokens), budget, what);
  } catch (e) {
    if (e instanceof InputError) return e;
    throw e;
  }
}

/** The largest page count in [lo, hi] that fits (fitting is monotone in the pages); null when lo does not. */
function mostPages(fits: (pages: number) => boolean, lo: number, hi: number): number | null {
  if (lo > hi || !fits(lo)) return null;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
