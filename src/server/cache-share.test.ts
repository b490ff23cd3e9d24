// A batch row's share of the latent cache, and the budget of a request that leaves max_tokens out (cache-share.ts).
import { describe, expect, it } from 'vitest';
import { cacheShare, shareBudget } from './cache-share.ts';

describe('a batch row’s share of the cache', () => {
  it('splits the pages evenly over the rows (whole pages, at least one); without batching a request may take it all', () => {
    const shape = { pages: 125, pageSize: 16, maxLength: 1000 };
    expect(cacheShare(shape, 3)).toEqual({ tokens: 2000, pages: 125, pageSize: 16, contextLength: 1000, rowTokens: 41 * 16 });
    expect(cacheShare(shape, null).rowTokens).toBe(2000);
    expect(cacheShare(shape, 500).rowTokens).toBe(16);
  });

  it('a request without max_tokens gets what its share leaves after the prompt (rows for prompt + new + 1), at least the floor', () => {
    const share = cacheShare({ pages: 125, pageSize: 16, maxLength: 1000 }, 3); // 656 rows a row
    expect(shareBudget(share, 100, 900, 16)).toBe(555); // 100 + 555 + 1 = 656
    expect(shareBudget(share, 650, 350, 16)).toBe(16);
    expect(shareBudget(share, 995, 5, 16)).toBe(5); // never past the context
    // A share of a whole context or more: all the context leaves.
    expect(shareBudget(cacheShare({ pages: 126, pageSize: 16, maxLength: 1000 }, 2), 100, 900, 16)).toBe(900);
  });
});
