// A checkpoint folder behind a base URL, read with HTTP range requests: one `Range: bytes=a-b` GET per read,
// so a 4 GB shard is never downloaded whole. Browser-safe (fetch only); works in Node 20 too.
//
// Opening a file asks for its first byte (`Range: bytes=0-0`): the 206 answer's Content-Range gives the size
// and proves the server honours ranges, in one round trip (HEAD would give the size but not the proof); its
// ETag / Last-Modified is the version under which ranges are kept in the browser's Cache API (range-cache.ts).
import { CheckpointError, excerpt } from '../../errors.ts';
import type { ByteSource, FolderSource } from '../byte-source.ts';
import { browserRangeCache, fileVersion, RangeCache } from './range-cache.ts';

export interface HttpFolderOptions {
  /** The fetch to use (default: globalThis.fetch), e.g. one that adds credentials. */
  fetch?: typeof fetch;
  /** Extra request headers (e.g. Authorization), sent with every request. */
  headers?: Record<string, string>;
  /** Passed to every request: aborting it fails the pending reads. */
  signal?: AbortSignal;
  /**
   * Keep the ranges read in the browser's Cache API and read them from there on the next load, while the
   * file's ETag (or Last-Modified) is unchanged (default true; no effect where there is no Cache API, as in
   * Node), or a RangeCache of the caller's. clearModelCache() empties the browser's.
   */
  cache?: boolean | RangeCache;
}

/**
 * The folder at `baseUrl` (relative URLs resolve against the page). File names are resolved against it, so
 * `http://host/models/tiny` and `http://host/models/tiny/` name the same folder.
 */
export function httpFolder(baseUrl: string | URL, options: HttpFolderOptions = {}): FolderSource {
  const base = folderUrl(baseUrl);
  const http = new Http(options);
  options = { ...options, cache: rangeCacheOf(options) ?? false }; // one cache opened for all the files
  const url = (fileName: string) => insideFolder(base, fileName);
  return {
    name: base.href,
    open: async (fileName) => openHttpFile(url(fileName), options, http),
    readText: async (fileName) => {
      const href = url(fileName);
      const response = await http.get(href);
      if (!response.ok) throw new CheckpointError(href, statusText(response));
      return response.text();
    },
    exists: async (fileName) => {
      const href = url(fileName);
      const response = await http.head(href);
      if (response.ok) return true;
      if (response.status === 404 || response.status === 410) return false;
      throw new CheckpointError(href, `cannot tell whether the file exists: ${statusText(response)}`);
    },
  };
}

/** One file at `url`, opened for range reads; the size comes from the server's answer to `bytes=0-0`. */
export async function openHttpFile(url: string, options: HttpFolderOptions = {}, http = new Http(options)): Promise<ByteSource> {
  const response = await http.get(url, 'bytes=0-0');
  await response.body?.cancel();
  let size: number;
  if (response.status === 206) {
    size = totalFromContentRange(url, response.headers.get('content-range'));
  } else if (response.status === 416) {
    // Only an empty file refuses byte 0; the answer still carries the size as `bytes */0`.
    size = totalFromContentRange(url, response.headers.get('content-range'));
  } else if (response.ok) {
    throw new CheckpointError(url, noRangeSupport(response));
  } else {
    throw new CheckpointError(url, statusText(response));
  }
  const version = fileVersion(response.headers, size);
  const cache = version === undefined ? undefined : rangeCacheOf(options);
  return new HttpRangeSource(url, size, http, response.headers.get('etag'), cache && { cache, version: version! });
}

function rangeCacheOf(options: HttpFolderOptions): RangeCache | undefined {
  if (options.cache instanceof RangeCache) return options.cache;
  return options.cache === false ? undefined : browserRangeCache();
}

class HttpRangeSource implements ByteSource {
  constructor(
    readonly name: string,
    readonly size: number,
    private readonly http: Http,
    /** The ETag when opened: a range answered under another one means the file changed mid-load. */
    private readonly etag: string | null,
    private readonly cached?: { cache: RangeCache; version: string },
  ) {}

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new CheckpointError(this.name, `read of ${length} bytes at ${offset} is outside the file's ${this.size} bytes`);
    }
    if (length === 0) return new Uint8Array(0);
    const hit = await this.cached?.cache.get(this.name, this.cached.version, offset, length);
    if (hit) return hit;
    const out = await this.fetchRange(offset, length);
    await this.cached?.cache.put(this.name, this.cached.version, offset, out);
    return out;
  }

  private async fetchRange(offset: number, length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    const last = offset + length - 1;
    const response = await this.http.get(this.name, `bytes=${offset}-${last}`);
    if (response.status === 416) {
      throw new CheckpointError(this.name, `truncated: bytes ${offset}-${last} are past the end of the file on the server (it was ${this.size} bytes when opened)`);
    }
    if (response.status !== 206) {
      await response.body?.cancel();
      throw new CheckpointError(this.name, response.ok ? noRangeSupport(response) : statusText(response));
    }
    const range = response.headers.get('content-range');
    if (range !== null && !range.startsWith(`bytes ${offset}-`)) {
      await response.body?.cancel();
      throw new CheckpointError(this.name, `asked for bytes ${offset}-${last}, the server sent '${range}'`);
    }
    const etag = response.headers.get('etag');
    if (this.etag !== null && etag !== null && etag !== this.etag) {
      await response.body?.cancel();
      throw new CheckpointError(this.name, `the file changed on the server while it was read (ETag ${this.etag} when opened, ${etag} now); load the model again`);
    }
    const got = await readInto(response, out, this.name);
    if (got < length) {
      throw new CheckpointError(this.name, `short read: asked for ${length} bytes at ${offset} (bytes ${offset}-${last}), the server sent ${got}`);
    }
    return out;
  }
}

/** Streams the body into `out` (no second copy of large tensors); more bytes than `out` holds is an error. */
async function readInto(response: Response, out: Uint8Array, url: string): Promise<number> {
  if (!response.body) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes.length > out.length) throw new CheckpointError(url, `the server sent ${bytes.length} bytes for a ${out.length}-byte range`);
    out.set(bytes);
    return bytes.length;
  }
  const reader = response.body.getReader();
  let done = 0;
  for (;;) {
    const chunk = await reader.read();
    if (chunk.done) return done;
    if (done + chunk.value.length > out.length) {
      await reader.cancel();
      throw new CheckpointError(url, `the server sent more than the ${out.length} bytes of the requested range`);
    }
    out.set(chunk.value, done);
    done += chunk.value.length;
  }
}

/** fetch with the caller's headers and signal; network failures become a CheckpointError naming the URL. */
class Http {
  private readonly fetch: typeof fetch;

  constructor(private readonly options: HttpFolderOptions) {
    if (!options.fetch && typeof globalThis.fetch !== 'function') {
      throw new CheckpointError('(http)', 'no fetch() in this environment: pass options.fetch');
    }
    // Browsers throw 'Illegal invocation' when window.fetch is called as another object's method.
    this.fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  get(url: string, range?: string): Promise<Response> {
    return this.request(url, 'GET', range);
  }

  /** HEAD, or a one-byte GET where the server refuses HEAD (some object stores and dev servers do). */
  async head(url: string): Promise<Response> {
    const response = await this.request(url, 'HEAD');
    if (response.status !== 405 && response.status !== 501) return response;
    const fallback = await this.request(url, 'GET', 'bytes=0-0');
    await fallback.body?.cancel();
    return fallback;
  }

  private async request(url: string, method: string, range?: string): Promise<Response> {
    const headers: Record<string, string> = { ...this.options.headers };
    // identity: a compressed answer's Content-Range would count encoded bytes, not the file's (browsers
    // manage Accept-Encoding themselves and drop this; Node's fetch sends it).
    if (range) Object.assign(headers, { Range: range, 'Accept-Encoding': 'identity' });
    try {
      // Range answers bypass the browser's HTTP cache: Chromium sent each `bytes=0-0` twice through it, and
      // the ranges worth keeping are kept in the Cache API (range-cache.ts).
      return await this.fetch(url, { method, headers, signal: this.options.signal, ...(range && { cache: 'no-store' as const }) });
    } catch (e) {
      const why = (e as Error)?.name === 'AbortError' ? 'aborted' : `fetch failed (${(e as Error)?.message ?? e})`;
      throw new CheckpointError(url, `${method}${range ? ` ${range}` : ''}: ${why}`);
    }
  }
}

/**
 * `fileName` resolved against the folder, refused unless it stays on the folder's origin and under its path.
 * Shard names are already checked where the index is read (shard-name.ts); this second check keeps the
 * caller's headers (Authorization) from reaching another host whatever a future caller passes.
 */
function insideFolder(base: URL, fileName: string): string {
  let resolved: URL | undefined;
  try {
    resolved = new URL(fileName, base);
  } catch {
    resolved = undefined;
  }
  if (!resolved || resolved.origin !== base.origin || !resolved.pathname.startsWith(base.pathname) || resolved.pathname === base.pathname) {
    throw new CheckpointError(base.href, `file name ${excerpt(fileName)} resolves outside the checkpoint folder ${base.href}; refused`);
  }
  return resolved.href;
}

function folderUrl(baseUrl: string | URL): URL {
  const page = (globalThis as { location?: { href: string } }).location?.href;
  let url: URL;
  try {
    url = new URL(baseUrl, page);
  } catch {
    throw new CheckpointError(String(baseUrl), 'not a valid URL (give an absolute URL, or a relative one inside a page)');
  }
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  url.search = '';
  url.hash = '';
  return url;
}

/** `bytes 0-0/1234` (206) or `bytes * /1234` (416) -> 1234. */
function totalFromContentRange(url: string, header: string | null): number {
  if (header === null) {
    throw new CheckpointError(
      url,
      'the range answer has no readable Content-Range header, so the file size is unknown ' +
        '(a cross-origin server must list it in Access-Control-Expose-Headers)',
    );
  }
  const match = /^bytes (?:\d+-\d+|\*)\/(\d+)$/.exec(header.trim());
  if (!match) throw new CheckpointError(url, `unreadable Content-Range '${header}' (the file size must be known)`);
  return Number(match[1]);
}

function noRangeSupport(response: Response): string {
  return `the server does not support range requests (it answered a Range request with ${response.status} and the whole file); serve the checkpoint from a server that honours Range, as most static servers and object stores do`;
}

function statusText(response: Response): string {
  const text = response.statusText ? ` ${response.statusText}` : '';
  return response.status === 404 ? `HTTP 404${text}: no such file on the server` : `HTTP ${response.status}${text}`;
}
