// The prefix cache (docs/architecture.md "The prefix cache"): whole pages of the latent cache that finished or
// running sequences filled, kept under the tokens that produced them, so that a later prompt starting with the
// same tokens (a chat's history, a shared system prompt) takes those pages instead of prefilling them again.
//
// A page's rows depend on every token up to its last row, so a page is keyed by its own tokens and its parent
// entry (the page before it): a chain of entries is a token prefix, and a lookup walks it from the first page.
// The MTP layer's rows live in the same pages; its row j reads token j + 1, so a page's MTP rows are only good
// for a continuation whose next token is the one they were computed with (`mtpNext`), and only where the
// sequence that left the page had filled them.
//
// The cache holds one reference to each page it keeps. Pages nobody else references are free for the taking:
// when the pool runs dry the least recently used of them goes first, children before parents (a lookup or
// insert marks a chain's pages from the last to the first, so a parent is always more recent than its child).

/** How the prefix cache references pages of the pool (LatentCache). */
export interface PageRefs {
  share(page: number): void;
  drop(page: number): void;
  refCount(page: number): number;
}

/** Running totals since load (what /metrics reports). */
export interface PrefixCacheStats {
  /** Sequences that looked for a cached prefix. */
  lookups: number;
  /** Lookups that found at least one page. */
  hits: number;
  /** Prompt tokens looked up. */
  lookupTokens: number;
  /** Of those, rows taken from the cache instead of prefilled. */
  reusedTokens: number;
  /** Pages given back to the pool to make room. */
  evictions: number;
}

interface Entry {
  readonly id: number;
  readonly key: string;
  readonly parent: Entry | null;
  readonly children: Set<Entry>;
  page: number;
  /** The token after this page that its MTP rows were computed with; -1: its MTP rows are not all there. */
  mtpNext: number;
  used: number;
}

export interface PrefixMatch {
  /** The matched pages in position order, each referenced once more for the caller. */
  pages: number[];
  /** Rows at the start of the match whose MTP rows hold too (a multiple of the page size, <= pages * P). */
  mtpRows: number;
}

export class PrefixCache {
  private readonly entries = new Map<string, Entry>();
  private nextId = 1;
  private tick = 0;
  readonly stats: PrefixCacheStats = { lookups: 0, hits: 0, lookupTokens: 0, reusedTokens: 0, evictions: 0 };

  constructor(
    readonly pageSize: number,
    private readonly refs: PageRefs,
  ) {}

  /** Pages the cache keeps. */
  get pages(): number {
    return this.entries.size;
  }

  /** Pages only the cache references: the pool may take them back at any time. */
  get reclaimable(): number {
    let n = 0;
    for (const e of this.entries.values()) if (this.refs.refCount(e.page) === 1) n++;
    return n;
  }

  /**
   * The longest run of cached whole pages that `tokens` starts with, at most `maxPages` of them. With `mtp`,
   * only pages whose MTP rows are there and were computed with the next token of `tokens`.
   */
  match(tokens: readonly number[], maxPages: number, mtp: boolean): PrefixMatch {
    const P = this.pageSize;
    const chain: Entry[] = [];
    let mtpPages = 0;
    let parent: Entry | null = null;
    while (chain.length < maxPages && (chain.length + 1) * P <= tokens.length) {
      const e = this.entries.get(this.keyOf(parent, tokens, chain.length));
      if (!e) break;
      const mtpHolds = mtpPages === chain.length && e.mtpNext >= 0 && e.mtpNext === tokens[(chain.length + 1) * P];
      if (mtp && !mtpHolds) break;
      chain.push(e);
      if (mtpHolds) mtpPages++;
      parent = e;
    }
    this.stats.lookups++;
    this.stats.lookupTokens += tokens.length;
    if (chain.length > 0) this.stats.hits++;
    this.stats.reusedTokens += chain.length * P;
    this.touch(chain);
    for (const e of chain) this.refs.share(e.page);
    return { pages: chain.map((e) => e.page), mtpRows: mtpPages * P };
  }

  /**
   * Keeps the whole pages of a sequence: `pages[i]` holds rows i*P .. (i+1)*P - 1 of `tokens`; `rows` of them
   * are written, and the first `mtpRows` MTP rows. A page already cached under the same tokens stays, unless
   * this one has MTP rows where the cached one has none.
   */
  insert(tokens: readonly number[], pages: readonly number[], rows: number, mtpRows: number): void {
    const P = this.pageSize;
    const whole = Math.min(Math.floor(Math.min(rows, tokens.length) / P), pages.length);
    const chain: Entry[] = [];
    let parent: Entry | null = null;
    for (let i = 0; i < whole; i++) {
      const end = (i + 1) * P;
      const mtpNext = end <= mtpRows && end < tokens.length ? tokens[end] : -1;
      const key = this.keyOf(parent, tokens, i);
      let e = this.entries.get(key);
      if (!e) {
        e = { id: this.nextId++, key, parent, children: new Set(), page: pages[i], mtpNext, used: 0 };
        this.refs.share(e.page);
        this.entries.set(key, e);
        parent?.children.add(e);
      } else if (e.mtpNext < 0 && mtpNext >= 0 && e.page !== pages[i]) {
        this.refs.share(pages[i]);
        this.refs.drop(e.page);
        e.page = pages[i];
        e.mtpNext = mtpNext;
      }
      chain.push(e);
      parent = e;
    }
    this.touch(chain);
  }

  /** Gives the least recently used page only the cache holds back to the pool (with the pages cached after it). */
  evict(): boolean {
    let oldest: Entry | null = null;
    for (const e of this.entries.values()) {
      if (this.refs.refCount(e.page) === 1 && (!oldest || e.used < oldest.used)) oldest = e;
    }
    if (!oldest) return false;
    this.remove(oldest);
    this.stats.evictions++;
    return true;
  }

  /** Forgets every cached page. */
  clear(): void {
    for (const e of [...this.entries.values()]) if (e.parent === null) this.remove(e);
  }

  private remove(e: Entry): void {
    for (const child of [...e.children]) this.remove(child);
    e.parent?.children.delete(e);
    this.entries.delete(e.key);
    this.refs.drop(e.page);
  }

  /** Entry `i` of a chain: the parent's id and the page's own tokens (exact, so no two prefixes share a key). */
  private keyOf(parent: Entry | null, tokens: readonly number[], i: number): string {
    const P = this.pageSize;
    return `${parent?.id ?? 0}:${tokens.slice(i * P, (i + 1) * P).join(',')}`;
  }

  /** Marks a chain used now, its last page least recent (evicted before its parents). */
  private touch(chain: readonly Entry[]): void {
    for (let i = chain.length - 1; i >= 0; i--) chain[i].used = ++this.tick;
  }
}
