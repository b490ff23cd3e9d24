// One blob into the cache: written to blobs/<etag>.incomplete, resumed from that file's length with a Range
// request (after a dropped connection, or in a later run), checked against the hub's ETag (sha256 for an
// LFS file, git blob sha1 for a regular one), and only then renamed to blobs/<etag>. A transfer that does
// not match is deleted, so no corrupt blob is ever left where transformers or the engine would read it. One
// process at a time writes a blob (src/hub/blob-lock.ts).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { HubError } from '../errors.ts';
import { withBlobLock, type BlobLockOptions } from './blob-lock.ts';
import type { RepoCache } from './cache.ts';
import { HubUnreachableError, statusError, type FileMetadata, type HubClient } from './http.ts';

/**
 * Downloads the file `meta` describes into `cache`'s blobs; `onBytes(done)` reports the bytes the
 * .incomplete file holds as they arrive.
 */
export async function downloadBlob(client: HubClient, cache: RepoCache, target: string, meta: FileMetadata, onBytes: (done: number) => void, lock: BlobLockOptions = {}): Promise<void> {
  const blob = cache.blobPath(meta.etag);
  await mkdir(dirname(blob), { recursive: true });
  await withBlobLock(
    blob,
    async () => {
      // Another process may have written it while this one waited for the lock.
      if ((await cache.blobSize(meta.etag)) === meta.size) return onBytes(meta.size);
      await downloadLocked(client, target, meta, blob, onBytes);
    },
    lock,
  );
}

async function downloadLocked(client: HubClient, target: string, meta: FileMetadata, blob: string, onBytes: (done: number) => void): Promise<void> {
  const partial = `${blob}.incomplete`;
  for (let attempt = 1; ; attempt++) {
    try {
      if (await transfer(client, target, meta, partial, onBytes)) break;
      throw new HubUnreachableError(target, 'the connection closed before the whole file arrived');
    } catch (e) {
      if (!(e instanceof HubUnreachableError)) throw e;
      if (attempt >= client.attempts) {
        throw new HubError(target, `${e.detail}; gave up after ${attempt} attempts (the ${await sizeOf(partial)} bytes received are kept in ${partial} and the next run resumes from there)`);
      }
      await client.pause(attempt);
    }
  }
  await verify(target, meta, partial);
  await rename(partial, blob);
}

/** One GET; true when `partial` then holds `meta.size` bytes. */
async function transfer(client: HubClient, target: string, meta: FileMetadata, partial: string, onBytes: (done: number) => void): Promise<boolean> {
  let have = await sizeOf(partial);
  if (have > meta.size) {
    await rm(partial, { force: true }); // longer than the file: not a prefix of it
    have = 0;
  }
  if (have === meta.size && meta.size === 0) return true;
  const response = await client.download(target, meta.url, have);
  if (response.status === 416) {
    // The range starts at the end: the file was whole already (a run stopped before its check and rename).
    await response.body?.cancel();
    if (have === meta.size) return true;
    await rm(partial, { force: true });
    throw new HubUnreachableError(target, `the server refused a resume at byte ${have} of ${meta.size} (416)`);
  }
  if (response.status !== 200 && response.status !== 206) throw await statusError(response, meta.url);
  const append = response.status === 206;
  if (append && contentRangeStart(response.headers.get('content-range')) !== have) {
    await response.body?.cancel();
    await rm(partial, { force: true });
    throw new HubUnreachableError(target, `the server answered a resume at byte ${have} with another range`);
  }
  if (!append) have = 0; // 200 to a Range request: the server sends the whole file, so start over
  onBytes(have);
  const file = await open(partial, append ? 'a' : 'w');
  try {
    if (response.body) {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        await file.write(chunk).catch((e: unknown) => {
          throw new HubError(target, `could not write ${partial}: ${(e as Error).message}`); // a full disk: no retry helps
        });
        have += chunk.byteLength;
        if (have > meta.size) break;
        onBytes(have);
      }
    }
  } catch (e) {
    if (e instanceof HubError) throw e;
    throw new HubUnreachableError(target, `the transfer broke off at byte ${have} (${(e as Error).message})`);
  } finally {
    await file.close();
  }
  return have === meta.size ? true : have > meta.size ? tooLong(target, partial, meta.size) : false;
}

async function tooLong(target: string, partial: string, size: number): Promise<never> {
  await rm(partial, { force: true });
  throw new HubError(target, `the server sent more than the ${size} bytes the hub announced; the download was deleted`);
}

/** The checksum the etag is: a 64-hex sha256 (LFS) or a 40-hex git blob sha1; other etags are only size-checked. */
async function verify(target: string, meta: FileMetadata, partial: string): Promise<void> {
  const size = await sizeOf(partial);
  const kind = /^[0-9a-f]{64}$/.test(meta.etag) ? 'sha256' : /^[0-9a-f]{40}$/.test(meta.etag) ? 'git-sha1' : undefined;
  const actual = kind ? await hashFile(partial, kind, size) : undefined;
  if (size === meta.size && actual === (kind ? meta.etag : undefined)) return;
  await rm(partial, { force: true });
  const found = size !== meta.size ? `${size} bytes, not the ${meta.size} the hub announced` : `${kind} ${actual}, not the hub's ${meta.etag}`;
  throw new HubError(target, `the downloaded file is corrupt (${found}); it was deleted, run again to download it anew`);
}

/** sha256 of the bytes, or git's blob id: sha1 of `blob <size>\0` followed by the bytes. */
export async function hashFile(path: string, kind: 'sha256' | 'git-sha1', size: number): Promise<string> {
  const hash = createHash(kind === 'sha256' ? 'sha256' : 'sha1');
  if (kind === 'git-sha1') hash.update(`blob ${size}\0`);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function contentRangeStart(header: string | null): number | undefined {
  const match = header?.match(/^bytes (\d+)-\d+\/(\d+|\*)$/);
  return match ? Number(match[1]) : undefined;
}

async function sizeOf(path: string): Promise<number> {
  return (await stat(path).catch(() => undefined))?.size ?? 0;
}
