// The Hugging Face hub cache layout, as huggingface_hub writes and reads it (so transformers and vLLM share
// what is here):
//   <cache>/models--<owner>--<name>/
//     blobs/<etag>                      file contents, named by the hub's ETag: the sha256 of an LFS file,
//                                       the git blob sha1 of a regular one
//     blobs/<etag>.incomplete           a download in progress (resumed from its length)
//     snapshots/<commit>/<path>         relative symlinks to ../../blobs/<etag> (a copy where the file
//                                       system refuses symlinks, e.g. Windows without Developer Mode)
//     refs/<revision>                   the commit hash a branch or tag pointed to, without a newline
import { copyFile, lstat, mkdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { COMMIT_HASH, type RepoId } from './repo-id.ts';

export class RepoCache {
  /** models--owner--name inside the cache folder. */
  readonly root: string;

  constructor(
    readonly cacheDir: string,
    readonly repo: RepoId,
  ) {
    this.root = join(cacheDir, `models--${repo.owner}--${repo.name}`);
  }

  blobPath(etag: string): string {
    return join(this.root, 'blobs', etag);
  }

  snapshotDir(commit: string): string {
    return join(this.root, 'snapshots', commit);
  }

  snapshotPath(commit: string, file: string): string {
    return join(this.snapshotDir(commit), ...file.split('/'));
  }

  /** The commit `revision` names in the cache: itself when it is a commit hash, else what refs/ records. */
  async commitFor(revision: string): Promise<string | undefined> {
    if (COMMIT_HASH.test(revision)) return revision;
    const text = await readFile(join(this.root, 'refs', ...revision.split('/')), 'utf8').catch(() => undefined);
    const commit = text?.trim();
    return commit !== undefined && COMMIT_HASH.test(commit) ? commit : undefined;
  }

  /** Records that `revision` points at `commit` (nothing for a revision that is the commit itself). */
  async writeRef(revision: string, commit: string): Promise<void> {
    if (revision === commit) return;
    const path = join(this.root, 'refs', ...revision.split('/'));
    await mkdir(dirname(path), { recursive: true });
    if ((await readFile(path, 'utf8').catch(() => undefined)) === commit) return;
    const temporary = `${path}.${process.pid}.tmp`;
    await writeFile(temporary, commit);
    await rename(temporary, path);
  }

  /** True when the snapshot holds `file` and it leads to a readable regular file (no dangling link). */
  async hasSnapshotFile(commit: string, file: string): Promise<boolean> {
    return isFile(this.snapshotPath(commit, file));
  }

  /** The blob's size when it is complete in the cache, else undefined. */
  async blobSize(etag: string): Promise<number | undefined> {
    const info = await stat(this.blobPath(etag)).catch(() => undefined);
    return info?.isFile() ? info.size : undefined;
  }

  /** Points snapshots/<commit>/<file> at the blob: a relative symlink, or a copy where symlinks are refused. */
  async link(commit: string, file: string, etag: string): Promise<void> {
    const target = this.snapshotPath(commit, file);
    await mkdir(dirname(target), { recursive: true });
    if (await lstat(target).catch(() => undefined)) await rm(target, { force: true });
    const blob = this.blobPath(etag);
    try {
      await symlink(relative(dirname(target), blob), target);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EACCES') throw e;
      await copyFile(blob, target); // as huggingface_hub does without symlink support: twice the disk space
    }
  }
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}
