// How a load sizes the paged latent cache against its memory plan (src/model/cache-size.ts), on the embedded
// model's real headers: a context that is not a whole number of pages (1000 rows, pages of 16), budgets between
// whole sequences, and a buffer limit that bounds one layer's pool.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openModelFolder, type ModelFolder } from '../checkpoint/model-folder.ts';
import { nodeFolder } from '../checkpoint/sources/node-file.ts';
import { DEFAULT_MODEL_DIR } from '../default-model.ts';
import { GpuError, InputError } from '../errors.ts';
import { sizeCache, type CacheSizeOptions } from './cache-size.ts';
import { bufferLimit, planMemory } from './memory-plan.ts';

const CONTEXT = 1000; // 63 pages of 16, the last one part-used
const ONE = 63 * 16;
const GiB = 2 ** 30;
let folder: ModelFolder;

beforeAll(async () => {
  folder = await openModelFolder(nodeFolder(DEFAULT_MODEL_DIR));
});
afterAll(() => folder?.checkpoint.close());

const planWith = (limitBytes = GiB) => (cacheTokens: number) =>
  planMemory(folder.config, folder.checkpoint, { contextLength: CONTEXT, cacheTokens, prefillChunk: 64 }, bufferLimit({ maxBufferSize: limitBytes, maxStorageBufferBindingSize: limitBytes }));
const size = (o: Partial<CacheSizeOptions>, limitBytes?: number) => sizeCache(planWith(limitBytes), { contextLength: CONTEXT, pageSize: 16, ...o }, 'tiny with a 1000-token context');
/** Bytes the plan takes with `tokens` rows of cache. */
const total = (tokens: number) => planWith()(tokens).total;

describe('the cache a load gets', () => {
  it('one context by default; cacheSequences whole contexts of pages when memory allows', () => {
    expect(size({}).cacheTokens).toBe(CONTEXT);
    expect(size({ cacheSequences: 3 }).cacheTokens).toBe(3 * ONE);
    expect(size({ cacheSequences: 3 }).plan.latentCache).toBe(planWith()(3 * ONE).latentCache);
  });

  it('cacheSequences: as many pages as the budget holds when that is less, never under one context', () => {
    const budget = Math.floor((total(ONE) + total(2 * ONE)) / 2); // one and a half sequences, about
    const { cacheTokens, plan } = size({ cacheSequences: 4, budget });
    expect(cacheTokens).toBeGreaterThan(ONE);
    expect(cacheTokens).toBeLessThan(2 * ONE);
    expect(cacheTokens % 16).toBe(0);
    expect(plan.total).toBeLessThanOrEqual(budget);
    expect(total(cacheTokens + 16)).toBeGreaterThan(budget); // the most that fit
    // Below one context: the plan's own refusal, which names the context.
    expect(() => size({ cacheSequences: 4, budget: total(CONTEXT) - 1 })).toThrow(GpuError);
    expect(() => size({ cacheSequences: 4, budget: total(CONTEXT) - 1 })).toThrow(/1000-token context needs/);
  });

  it('cacheSequences: a buffer limit bounds one layer pool (the latent dimension is 80 floats a row)', () => {
    const limit = 2 * 2 ** 20; // 409 pages of 16 rows of 320 bytes in one layer's buffer (8 contexts take 504)
    expect(size({ cacheSequences: 8 }, limit).cacheTokens).toBe(409 * 16);
  });

  it('cacheTokens is taken as given, and refused naming cache-tokens with the rows that fit when it does not', () => {
    expect(size({ cacheTokens: 777 }).cacheTokens).toBe(777);
    const budget = total(5000);
    expect(size({ cacheTokens: 5000, budget }).cacheTokens).toBe(5000);
    let error: unknown;
    try {
      size({ cacheTokens: 9000, budget });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).argument).toBe('cache-tokens');
    const most = Number(/At most (\d+) rows fit/.exec((error as Error).message)?.[1]);
    expect(most).toBe(313 * 16); // the budget of 5000 rows holds their 313 whole pages
    expect((error as Error).message).toMatch(/^cache-tokens: 9000 rows \(563 pages of 16\) do not fit: .*memory budget/);
    // When even one page does not fit, the cache is not the problem: the plan's refusal as it is.
    expect(() => size({ cacheTokens: 9000, budget: total(16) - 1 })).toThrow(GpuError);
    expect(() => size({ cacheTokens: 0 })).toThrow(/cache-tokens: must be a positive integer, got 0/);
    expect(() => size({ cacheSequences: 1.5 })).toThrow(/cache-sequences: must be a positive integer/);
  });
});
