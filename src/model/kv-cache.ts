// The latent KV cache, paged (docs/architecture.md "The paged latent cache"): per layer and token only c_kv
// (kv_lora_rank) and the rotated k_pe (qk_rope_head_dim), f32, in one pool buffer per layer of `pages` pages of
// `pageSize` rows each ([pages * pageSize, latentDim]); the MTP layer has a pool of its own with the same page
// numbering. A sequence owns a list of pages (its row of the page table, on the GPU for the kernels and mirrored
// here); sequences of any lengths share the pool, take pages as they grow and return them when released.
// A fork shares its parent's pages (reference counts); a shared page is copied before either sequence writes
// into it (copy on write), so forks from one prompt cost no copy of the prompt's full pages.
// Whole pages of finished (and freshly prefilled) sequences stay in a prefix cache (src/model/prefix-cache.ts)
// until the pool needs them, so a prompt that starts with the same tokens takes them instead of prefilling.
// Rows past a sequence's length are garbage and never read (attention is causal), so truncating — a new
// conversation or a speculative rollback — is just setting the length.
import type { ModelConfig } from '../config/model-config.ts';
import { InputError } from '../errors.ts';
import type { Gpu } from '../gpu/device.ts';
import { createStorage, storageBytes } from '../gpu/buffers.ts';
import type { Recorder } from '../gpu/recorder.ts';
import { pageShift } from '../kernels/row-map.ts';
import { PrefixCache } from './prefix-cache.ts';

/** Rows per page by default: a sequence wastes at most 15 rows, and a page table entry covers 16 positions. */
export const DEFAULT_PAGE_SIZE = 16;

export interface CacheShape {
  latentDim: number;
  /** Decoder layers (the main model's). */
  numLayers: number;
  /** The MTP module's layer has a pool too. */
  mtp: boolean;
  pageSize: number;
  /** Pages in the pool (every sequence together). */
  pages: number;
  /** Positions one sequence may reach (its page table row holds ceil(maxLength / pageSize) entries). */
  maxLength: number;
  /** Sequences at once (page table rows). */
  maxSequences: number;
}

/** Pages a pool needs to hold `tokens` rows at `pageSize`. */
export function poolPages(tokens: number, pageSize: number): number {
  return Math.ceil(tokens / pageSize);
}

/** How a load sizes the cache (ModelLoadOptions). */
export interface CacheOptions {
  /** Positions one sequence may reach. */
  contextLength: number;
  /** Rows of the pool, all sequences together; default contextLength. */
  cacheTokens?: number;
  pageSize?: number;
  maxSequences?: number;
}

/** The cache a load allocates for these options (the memory plan counts the same). */
export function cacheShape(c: ModelConfig, mtp: boolean, o: CacheOptions): CacheShape {
  const pageSize = o.pageSize ?? DEFAULT_PAGE_SIZE;
  pageShift(pageSize);
  const tokens = o.cacheTokens ?? o.contextLength;
  if (!Number.isInteger(tokens) || tokens < 1) throw new InputError('cache-tokens', `must be a positive integer, got ${tokens}`);
  return {
    latentDim: c.latentDim,
    numLayers: c.numHiddenLayers,
    mtp,
    pageSize,
    pages: poolPages(tokens, pageSize),
    maxLength: o.contextLength,
    maxSequences: o.maxSequences ?? 64,
  };
}

export class LatentCache {
  readonly layers: GPUBuffer[];
  /** The MTP layer's pool (same pages as `layers`), when there is one. */
  readonly mtpLayer: GPUBuffer | null;
  /** [maxSequences, pagesPerSequence] u32: entry i of a sequence's row is the page of its positions i*P .. */
  readonly table: GPUBuffer;
  readonly pagesPerSequence: number;
  readonly pageShift: number;
  private readonly tableHost: Uint32Array;
  private readonly refs: Int32Array;
  private readonly freePages: number[];
  private readonly freeSlots: number[];
  /** One page of one layer, the stop between a shared page and its copy (a buffer can't be copied onto itself). */
  private readonly pageScratch: GPUBuffer;
  /** Whole pages kept for later prompts that start with their tokens; null when the load turned it off. */
  readonly prefix: PrefixCache | null;

  constructor(
    gpu: Gpu,
    readonly shape: CacheShape,
    label = 'latent cache',
    options: { prefixCache?: boolean } = {},
  ) {
    this.pageShift = pageShift(shape.pageSize);
    for (const [name, v] of Object.entries({ pages: shape.pages, maxLength: shape.maxLength, maxSequences: shape.maxSequences })) {
      if (!Number.isInteger(v) || v < 1) throw new InputError(name, `must be a positive integer, got ${v}`);
    }
    this.pagesPerSequence = Math.ceil(shape.maxLength / shape.pageSize);
    // The memory plan sizes (and checks against the device's limits) these buffers with the same functions.
    const bytes = LatentCache.bytesPerLayer(shape);
    this.layers = Array.from({ length: shape.numLayers }, (_, l) => createStorage(gpu.device, bytes, `${label} layer ${l}`));
    this.mtpLayer = shape.mtp ? createStorage(gpu.device, bytes, `mtp ${label}`) : null;
    this.table = createStorage(gpu.device, LatentCache.tableBytes(shape), 'page table');
    this.pageScratch = createStorage(gpu.device, shape.pageSize * shape.latentDim * 4, 'page copy scratch');
    this.tableHost = new Uint32Array(shape.maxSequences * this.pagesPerSequence);
    this.refs = new Int32Array(shape.pages);
    // Popped from the end: low pages and slots first.
    this.freePages = Array.from({ length: shape.pages }, (_, i) => shape.pages - 1 - i);
    this.freeSlots = Array.from({ length: shape.maxSequences }, (_, i) => shape.maxSequences - 1 - i);
    this.prefix = (options.prefixCache ?? true) ? new PrefixCache(shape.pageSize, { share: (p) => this.share(p), drop: (p) => this.drop(p), refCount: (p) => this.refs[p] }) : null;
  }

  static bytesPerLayer(s: Pick<CacheShape, 'latentDim' | 'pageSize' | 'pages'>): number {
    return s.latentDim * s.pageSize * s.pages * 4;
  }

  static tableBytes(s: Pick<CacheShape, 'maxLength' | 'pageSize' | 'maxSequences'>): number {
    return storageBytes(s.maxSequences * Math.ceil(s.maxLength / s.pageSize) * 4);
  }

  /** Bytes of the main pool for a model and `tokens` rows at one page size (what `info` reports per token). */
  static bytesFor(c: ModelConfig, tokens: number, layers = c.numHiddenLayers, pageSize = DEFAULT_PAGE_SIZE): number {
    return layers * LatentCache.bytesPerLayer({ latentDim: c.latentDim, pageSize, pages: poolPages(tokens, pageSize) });
  }

  get pageSize(): number {
    return this.shape.pageSize;
  }

  /** Rows of each layer's pool. */
  get poolRows(): number {
    return this.shape.pages * this.shape.pageSize;
  }

  /** Pages no sequence holds: free ones and those only the prefix cache keeps (taken back when needed). */
  get freePageCount(): number {
    return this.freePages.length + (this.prefix?.reclaimable ?? 0);
  }

  get bytes(): number {
    return (this.layers.length + (this.mtpLayer ? 1 : 0)) * LatentCache.bytesPerLayer(this.shape);
  }

  /** Every layer's pool, the MTP's last. */
  get allLayers(): GPUBuffer[] {
    return this.mtpLayer ? [...this.layers, this.mtpLayer] : this.layers;
  }

  /** Page table entry `entry` (a sequence's row starts at CacheSequence.tableAt). */
  page(entry: number): number {
    return this.tableHost[entry];
  }

  /** A new, empty sequence. */
  open(): CacheSequence {
    const slot = this.freeSlots.pop();
    if (slot === undefined) throw new InputError('sequences', `all ${this.shape.maxSequences} sequences of the cache are in use; release one first or load with more`);
    return new CacheSequence(this, slot);
  }

  /** @internal A free page, referenced once. */
  takePage(): number {
    let page = this.freePages.pop();
    while (page === undefined && this.prefix?.evict()) page = this.freePages.pop();
    if (page === undefined) {
      throw new InputError('cache', `the latent cache's ${this.shape.pages} pages of ${this.shape.pageSize} rows are all in use; release a sequence or load with more cache tokens`);
    }
    this.refs[page] = 1;
    return page;
  }

  /** @internal */
  share(page: number): void {
    this.refs[page]++;
  }

  /** @internal */
  shared(page: number): boolean {
    return this.refs[page] > 1;
  }

  /** @internal Drops one reference; the page is free when none is left. */
  drop(page: number): void {
    if (--this.refs[page] === 0) this.freePages.push(page);
  }

  /** @internal */
  freeSlot(slot: number): void {
    this.freeSlots.push(slot);
  }

  /** @internal Sets table entries (host and GPU) from `at`. */
  setEntries(rec: Recorder, at: number, pages: readonly number[]): void {
    if (pages.length === 0) return;
    this.tableHost.set(pages, at);
    rec.write(this.table, at * 4, Uint32Array.from(pages));
  }

  /** @internal Records the copy of page `from` onto page `to` in every layer's pool. */
  copyPage(rec: Recorder, from: number, to: number): void {
    const bytes = this.shape.pageSize * this.shape.latentDim * 4;
    for (const layer of this.allLayers) {
      rec.copy(layer, from * bytes, this.pageScratch, 0, bytes);
      rec.copy(this.pageScratch, 0, layer, to * bytes, bytes);
    }
  }

  destroy(): void {
    for (const b of this.allLayers) b.destroy();
    this.table.destroy();
    this.pageScratch.destroy();
  }
}

/** One sequence's pages in a LatentCache, and how many rows the main model's and the MTP's caches hold. */
export class CacheSequence {
  /** The sequence's pages, in position order. */
  private pages: number[] = [];
  private released = false;
  /** Rows of the main model's cache. */
  length = 0;
  /** Rows of the MTP layer's cache (it trails the main cache; speculation resumes at most there). */
  mtpLength = 0;
  /** Rows taken from the prefix cache when the sequence started (its prompt's cached tokens). */
  reused = 0;

  constructor(
    readonly cache: LatentCache,
    readonly slot: number,
  ) {}

  /** This sequence's first page table entry. */
  get tableAt(): number {
    return this.slot * this.cache.pagesPerSequence;
  }

  get pageCount(): number {
    return this.pages.length;
  }

  get maxLength(): number {
    return this.cache.shape.maxLength;
  }

  /**
   * Makes positions from..to-1 writable before a step writes them: pages up to position `to` exist (taken
   * from the pool), and every page the range touches is this sequence's alone (a shared one is copied first).
   */
  reserve(rec: Recorder, from: number, to: number): void {
    this.checkLive();
    if (to > this.maxLength) throw new InputError('tokens', `${to} positions exceed the context of ${this.maxLength}`);
    const P = this.cache.pageSize;
    const need = Math.ceil(to / P);
    const fresh: number[] = [];
    try {
      while (this.pages.length + fresh.length < need) fresh.push(this.cache.takePage());
    } catch (e) {
      for (const p of fresh) this.cache.drop(p);
      throw e;
    }
    this.cache.setEntries(rec, this.tableAt + this.pages.length, fresh);
    this.pages.push(...fresh);
    for (let i = Math.floor(from / P); i < Math.min(need, this.pages.length); i++) {
      const old = this.pages[i];
      if (!this.cache.shared(old)) continue;
      const copy = this.cache.takePage();
      this.cache.copyPage(rec, old, copy);
      this.cache.drop(old);
      this.pages[i] = copy;
      this.cache.setEntries(rec, this.tableAt + i, [copy]);
    }
  }

  /**
   * Starts the empty sequence with the longest run of cached whole pages that `tokens` starts with (at most
   * `maxPages`); with `mtp`, only pages whose MTP rows hold too, so both caches continue from the same row.
   * Returns the rows taken (also in `reused`).
   */
  startFromPrefix(rec: Recorder, tokens: readonly number[], maxPages: number, mtp: boolean): number {
    this.checkLive();
    if (this.length !== 0 || this.pages.length !== 0) throw new InputError('sequence', `holds ${this.length} positions: only an empty one starts from the prefix cache`);
    const prefix = this.cache.prefix;
    if (!prefix || maxPages < 1) return 0;
    const { pages, mtpRows } = prefix.match(tokens, maxPages, mtp);
    this.pages = pages;
    this.cache.setEntries(rec, this.tableAt, pages);
    this.length = this.reused = pages.length * this.cache.pageSize;
    this.mtpLength = mtpRows;
    return this.length;
  }

  /**
   * Offers the sequence's whole pages to the prefix cache: `tokens` are the tokens of its rows (at least the
   * first `rows` of them are kept: default every row), the MTP's where it has filled them.
   */
  keepPrefix(tokens: readonly number[], rows = this.length): void {
    this.checkLive();
    this.cache.prefix?.insert(tokens, this.pages, Math.min(rows, this.length), this.mtpLength);
  }

  /** Forgets positions from `length` on, in both caches, and returns the pages past them to the pool. */
  truncate(length: number): void {
    this.checkLive();
    if (!Number.isInteger(length) || length < 0 || length > this.length) {
      throw new InputError('length', `cannot truncate a ${this.length}-row cache to ${length}`);
    }
    this.length = length;
    this.mtpLength = Math.min(this.mtpLength, length);
    const keep = Math.ceil(length / this.cache.pageSize);
    for (const p of this.pages.splice(keep)) this.cache.drop(p);
  }

  /** A new sequence with this one's rows (both caches), sharing its pages until either writes into one. */
  fork(rec: Recorder): CacheSequence {
    this.checkLive();
    const child = this.cache.open();
    for (const p of this.pages) this.cache.share(p);
    child.pages = [...this.pages];
    child.length = this.length;
    child.mtpLength = this.mtpLength;
    child.reused = this.reused;
    this.cache.setEntries(rec, child.tableAt, child.pages);
    return child;
  }

  /** Returns every page and the table row to the pool; the sequence is unusable afterwards. */
  release(): void {
    if (this.released) return;
    this.released = true;
    for (const p of this.pages.splice(0)) this.cache.drop(p);
    this.cache.freeSlot(this.slot);
    this.length = 0;
    this.mtpLength = 0;
    this.reused = 0;
  }

  private checkLive(): void {
    if (this.released) throw new InputError('sequence', 'has been released');
  }
}
