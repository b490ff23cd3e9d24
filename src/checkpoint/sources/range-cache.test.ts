// Ranges kept between loads: a second read of the same ranges costs no range request while the file's ETag is
// unchanged; a changed file, a corrupt entry, `no-store` and a file without validators all go to the network.
// The Cache API is browser-only, so a Map stands in for it (browser-test/ covers the real one).
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStaticServer, type StaticServer } from '../../../tools/static-server.ts';
import { openHttpFile } from './http-range.ts';
import { fileVersion, RangeCache, type CacheLike } from './range-cache.ts';

/** The Cache API's match/put/delete over a Map; `entries` is there for tests to corrupt. */
function mapCache() {
  const entries = new Map<string, Response>();
  const cache: CacheLike = {
    match: async (key) => entries.get(key)?.clone(),
    put: async (key, response) => void entries.set(key, response),
    delete: async (key) => entries.delete(key),
  };
  return { entries, cache: new RangeCache(Promise.resolve(cache)) };
}

let server: StaticServer;
let dir: string;
const ranges: string[] = [];
const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 13) % 256);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'range-cache-'));
  await writeFile(join(dir, 'f.bin'), bytes);
  server = await startStaticServer({ mounts: { '/d/': dir }, onRequest: (method, url) => ranges.push(`${method} ${url}`) });
});
afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Range requests sent while `f` runs (the Range header is not in the log: count GETs past the open). */
async function requestsDuring(f: () => Promise<void>): Promise<number> {
  const before = ranges.length;
  await f();
  return ranges.length - before;
}

describe('RangeCache through openHttpFile', () => {
  const url = () => `${server.origin}/d/f.bin`;

  it('a reload reads cached ranges without a request; a changed file or a corrupt entry is fetched again', async () => {
    const { entries, cache } = mapCache();
    const first = await openHttpFile(url(), { cache });
    expect(await requestsDuring(async () => {
      expect(await first.read(7, 300)).toEqual(bytes.subarray(7, 307));
      expect(await first.read(500, 499)).toEqual(bytes.subarray(500, 999));
    })).toBe(2);
    expect(entries.size).toBe(2);

    const again = await openHttpFile(url(), { cache }); // one request: the open (bytes=0-0) gives the ETag
    expect(await requestsDuring(async () => {
      expect(await again.read(7, 300)).toEqual(bytes.subarray(7, 307));
      expect(await again.read(500, 499)).toEqual(bytes.subarray(500, 999));
    })).toBe(0);

    // A truncated entry: dropped and fetched again, then cached whole.
    const key = [...entries.keys()][0];
    entries.set(key, new Response(new Uint8Array(10), { headers: entries.get(key)!.headers }));
    expect(await requestsDuring(async () => void expect(await again.read(7, 300)).toEqual(bytes.subarray(7, 307)))).toBe(1);
    expect(await requestsDuring(async () => void (await again.read(7, 300)))).toBe(0);

    // The file changes on the server (new mtime, so a new ETag): every cached range is stale.
    const later = new Date(Date.now() + 60_000);
    await utimes(join(dir, 'f.bin'), later, later);
    const changed = await openHttpFile(url(), { cache });
    expect(await requestsDuring(async () => void expect(await changed.read(7, 300)).toEqual(bytes.subarray(7, 307)))).toBe(1);
    // ... and the file opened before the change now fails its next network read instead of mixing versions.
    await expect(again.read(0, 5)).rejects.toThrow(/changed on the server while it was read/);
  });

  it('cache: false reads the network every time', async () => {
    const file = await openHttpFile(url(), { cache: false });
    expect(await requestsDuring(async () => void (await file.read(0, 10), await file.read(0, 10)))).toBe(2);
  });
});

describe('fileVersion', () => {
  it('is the ETag, else Last-Modified, with the size; nothing under no-store or without a validator', () => {
    expect(fileVersion(new Headers({ etag: '"a1"', 'last-modified': 'x' }), 5)).toBe('etag "a1" size 5');
    expect(fileVersion(new Headers({ 'last-modified': 'Thu, 01 Jan 2026 00:00:00 GMT' }), 5)).toBe('last-modified Thu, 01 Jan 2026 00:00:00 GMT size 5');
    expect(fileVersion(new Headers({ etag: '"a1"', 'cache-control': 'private, no-store' }), 5)).toBeUndefined();
    expect(fileVersion(new Headers({ etag: '"a1"', 'cache-control': 'no-cache' }), 5)).toBe('etag "a1" size 5');
    expect(fileVersion(new Headers(), 5)).toBeUndefined();
  });
});
