import { lstat, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RepoCache } from './cache.ts';

// A file system that refuses symlinks, as Windows does without Developer Mode or admin rights.
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  const refused = Object.assign(new Error('EPERM: operation not permitted, symlink'), { code: 'EPERM' });
  return { ...fs, symlink: vi.fn(() => Promise.reject(refused)) };
});

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the hub cache without symlinks', () => {
  it('puts a copy of the blob in the snapshot, as huggingface_hub does, and finds it there afterwards', async () => {
    dir = await mkdtemp(join(tmpdir(), 'hub-nolinks-'));
    const cache = new RepoCache(dir, { owner: 'o', name: 'n', revision: 'main' });
    const commit = 'a'.repeat(40);
    await mkdir(join(cache.root, 'blobs'), { recursive: true });
    await writeFile(cache.blobPath('b'.repeat(40)), 'contents');
    await cache.link(commit, 'sub/config.json', 'b'.repeat(40));
    const copy = cache.snapshotPath(commit, 'sub/config.json');
    expect((await lstat(copy)).isFile()).toBe(true);
    expect(await readFile(copy, 'utf8')).toBe('contents');
    expect(await cache.hasSnapshotFile(commit, 'sub/config.json')).toBe(true);
  });
});
