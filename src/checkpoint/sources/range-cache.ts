// Checkpoint byte ranges kept in the browser's Cache API, so reloading a page does not download the model
// again. An entry is keyed by the file's URL and the byte range, and stores the file's version (its ETag, or
// its Last-Modified date when it has none, and its size) that the range was fetched under: a reload that finds
// the file changed on the server, or an entry of the wrong length (a corrupt or truncated write), drops the
// entry and fetches again. A file served with `Cache-Control: no-store`, or with neither an ETag nor a
// Last-Modified date (no way to tell it changed), is never cached. Browser-safe; Node has no Cache API, so
// there nothing is cached unless a cache is passed in.

/** The part of the Cache API (window.caches.open(name)) this uses; tests pass a stand-in. */
export interface CacheLike {
  match(request: string): Promise<Response | undefined>;
  put(request: string, response: Response): Promise<void>;
  delete(request: string): Promise<boolean>;
}

/** The Cache API cache the engine keeps checkpoint ranges in. */
export const MODEL_CACHE_NAME = 'deepseek-webgpu-checkpoints';
const VERSION_HEADER = 'x-deepseek-webgpu-version';
const RANGE_PARAM = 'deepseek-webgpu-bytes';

/** What the server said about a file when it was opened: its version, or why it must not be cached. */
export function fileVersion(headers: Headers, size: number): string | undefined {
  if (/(^|[,\s])no-store($|[,\s])/i.test(headers.get('cache-control') ?? '')) return undefined;
  const etag = headers.get('etag');
  const modified = headers.get('last-modified');
  if (etag) return `etag ${etag} size ${size}`;
  if (modified) return `last-modified ${modified} size ${size}`;
  return undefined;
}

export class RangeCache {
  constructor(private readonly cache: Promise<CacheLike>) {}

  /** Bytes [offset, offset + length) of `url` at `version`, when cached and intact; a stale or broken entry is dropped. */
  async get(url: string, version: string, offset: number, length: number): Promise<Uint8Array | undefined> {
    const key = rangeKey(url, offset, length);
    const cache = await this.cache;
    const hit = await cache.match(key);
    if (!hit) return undefined;
    const bytes = hit.headers.get(VERSION_HEADER) === version ? new Uint8Array(await hit.arrayBuffer().catch(() => new ArrayBuffer(0))) : undefined;
    if (bytes?.length === length) return bytes;
    await cache.delete(key);
    return undefined;
  }

  /** Keeps the range; a cache that refuses (quota, private mode) is ignored: the bytes were fetched anyway. */
  async put(url: string, version: string, offset: number, bytes: Uint8Array): Promise<void> {
    try {
      const body = new Uint8Array(bytes); // a copy: the caller keeps its array
      await (await this.cache).put(rangeKey(url, offset, bytes.length), new Response(body, { headers: { [VERSION_HEADER]: version, 'content-type': 'application/octet-stream' } }));
    } catch {
      // not cached; the next load downloads this range again
    }
  }
}

/** The browser's model cache, or undefined where there is no Cache API (Node, insecure pages). */
export function browserRangeCache(): RangeCache | undefined {
  const caches = (globalThis as { caches?: CacheStorage }).caches;
  return caches ? new RangeCache(caches.open(MODEL_CACHE_NAME)) : undefined;
}

/** Deletes every checkpoint range loads have cached in this browser (origin); false when there was none. */
export async function clearModelCache(): Promise<boolean> {
  const caches = (globalThis as { caches?: CacheStorage }).caches;
  return caches ? caches.delete(MODEL_CACHE_NAME) : false;
}

/** The cache key of a range: the file's URL with the range as a query parameter (the Cache API ignores fragments). */
function rangeKey(url: string, offset: number, length: number): string {
  const key = new URL(url);
  key.searchParams.set(RANGE_PARAM, `${offset}-${offset + length - 1}`);
  return key.href;
}
