// The prefix cache's bookkeeping over a stand-in page pool: keys are exact token prefixes, MTP rows count only
// with the token they were computed with, references are kept and given back, and eviction takes the least
// recently used page nobody else holds, children before parents. (kernels-test/batch.test.ts runs it on the GPU.)
import { describe, expect, it } from 'vitest';
import { PrefixCache } from './prefix-cache.ts';

const P = 3; // a page size that divides none of the prompts below

function pool(pages: number) {
  const refs = new Int32Array(pages);
  const free = Array.from({ length: pages }, (_, i) => pages - 1 - i);
  const cache = new PrefixCache(P, {
    share: (p) => void refs[p]++,
    drop: (p) => {
      if (--refs[p] === 0) free.push(p);
      if (refs[p] < 0) throw new Error(`page ${p} dropped once too often`);
    },
    refCount: (p) => refs[p],
  });
  /** A sequence's pages for `rows` rows, taken from the pool (evicting like LatentCache.takePage). */
  const take = (rows: number) =>
    Array.from({ length: Math.ceil(rows / P) }, () => {
      let page = free.pop();
      while (page === undefined && cache.evict()) page = free.pop();
      if (page === undefined) throw new Error('pool empty');
      refs[page] = 1;
      return page;
    });
  const release = (pages: number[]) => pages.forEach((p) => (--refs[p] === 0 ? free.push(p) : undefined));
  return { cache, refs, free, take, release };
}

const seq = (n: number, salt = 0) => Array.from({ length: n }, (_, i) => (i * 7 + salt) % 50);

describe('PrefixCache', () => {
  it('a prompt takes the whole cached pages it starts with, no more than asked, and references them', () => {
    const { cache, refs, take, release } = pool(16);
    const a = seq(11);
    const pages = take(11);
    cache.insert(a, pages, 11, 0); // 3 whole pages of 3 rows; the 4th (2 rows) is not whole
    release(pages);
    expect(cache.pages).toBe(3);
    expect(cache.reclaimable).toBe(3);

    const b = [...a.slice(0, 7), 99, 98]; // shares 2 whole pages and one more row
    const m = cache.match(b, 10, false);
    expect(m.pages).toEqual(pages.slice(0, 2));
    expect(m.mtpRows).toBe(0);
    expect(m.pages.map((p) => refs[p])).toEqual([2, 2]);
    expect(cache.reclaimable, 'pages a sequence holds are not free').toBe(1);
    expect(cache.match(a, 1, false).pages, 'maxPages bounds the match').toEqual(pages.slice(0, 1));
    expect(cache.match([...a.slice(0, 3).reverse(), ...a.slice(3)], 10, false).pages, 'a different first page matches nothing').toEqual([]);
    expect(cache.stats).toMatchObject({ lookups: 3, hits: 2, reusedTokens: 9 });
  });

  it('keys are exact: the same page after another prefix is another entry', () => {
    const { cache, take } = pool(16);
    const a = [1, 2, 3, 4, 5, 6];
    const b = [9, 9, 9, 4, 5, 6];
    cache.insert(a, take(6), 6, 0);
    cache.insert(b, take(6), 6, 0);
    expect(cache.pages).toBe(4);
    expect(cache.match([9, 9, 9, 4, 5, 6, 7], 9, false).pages).toHaveLength(2);
    expect(cache.match([1, 2, 3, 9, 5, 6, 7], 9, false).pages).toHaveLength(1);
    expect(cache.match([1, 2, 34, 5, 6, 7], 9, false).pages, 'tokens are compared whole, not as text').toHaveLength(0);
  });

  it("MTP rows count only where they were filled and with the prompt's next token", () => {
    const { cache, take } = pool(16);
    const a = seq(10);
    cache.insert(a, take(10), 10, 7); // MTP rows 0..6: pages 0 and 1 (rows up to 5, next tokens a[3], a[6])
    const same = cache.match(a, 9, true);
    expect(same.pages).toHaveLength(2);
    expect(same.mtpRows).toBe(6);
    const other = [...a.slice(0, 6), a[6] + 1, ...a.slice(7)];
    expect(cache.match(other, 9, false)).toMatchObject({ mtpRows: 3 }); // page 1's MTP rows read a[6]
    expect(cache.match(other, 9, false).pages).toHaveLength(2);
    expect(cache.match(other, 9, true).pages).toHaveLength(1);
  });

  it('a page with MTP rows replaces a cached one without them', () => {
    const { cache, refs, take, release } = pool(16);
    const a = seq(7);
    const plain = take(7);
    cache.insert(a, plain, 7, 0);
    release(plain);
    const drafted = take(7);
    cache.insert(a, drafted, 7, 7);
    expect(refs[plain[0]], 'the page without MTP rows went back to the pool').toBe(0);
    expect(cache.match(a, 9, true).pages).toEqual(drafted.slice(0, 2));
    expect(cache.pages).toBe(2);
  });

  it('the pool takes back the least recently used pages nobody holds, children first', () => {
    const { cache, refs, take, release } = pool(6);
    /** A lookup that touches the pages but does not keep them. */
    const peek = (t: number[]) => cache.match(t, 9, false).pages.map((p) => (refs[p]--, p));
    const a = seq(6, 1);
    const b = seq(6, 2);
    const pa = take(6);
    const pb = take(6);
    cache.insert(a, pa, 6, 0);
    cache.insert(b, pb, 6, 0);
    release(pa);
    release(pb);
    const held = cache.match(b, 1, false).pages; // b's first page is held by a sequence
    peek(a); // now: b's second page least recent, then b's first, then a's two
    const two = take(6); // the 2 free pages
    expect(cache.stats.evictions).toBe(0);
    const more = take(3);
    expect(cache.stats.evictions, "b's second page goes; b's first is held").toBe(1);
    expect(peek(b)).toEqual(held);
    release(held);
    release(two);
    release(more);
    take(15); // 3 free pages and 2 evicted: a's (less recent than b's first, just looked up), its second first
    expect(cache.stats.evictions).toBe(3);
    expect(peek(a)).toEqual([]);
    expect(peek(b)).toEqual(held);
  });

  it('evicting a parent forgets its children, and clear() returns every page', () => {
    const { cache, refs, free, take, release } = pool(8);
    const a = seq(9);
    const pages = take(9);
    cache.insert(a, pages, 9, 0);
    release(pages);
    expect(free).toHaveLength(5);
    cache.clear();
    expect(cache.pages).toBe(0);
    expect(free).toHaveLength(8);
    expect([...refs]).toEqual(Array(8).fill(0));
  });
});
