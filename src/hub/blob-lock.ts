// One writer per blob across processes (two terminals pulling one model, a server and a `pull`): the writer
// holds blobs/<etag>.lock, created exclusively with its process id in it; another waits until the lock is
// gone and then finds the blob written. A lock whose process is no longer alive (killed mid-download) is
// taken over. The id is of this host's processes, so a cache shared between machines is not covered.
import { open, readFile, rm } from 'node:fs/promises';
import { HubError } from '../errors.ts';

export interface BlobLockOptions {
  /** How often a waiting process looks again (ms). */
  pollMs?: number;
  /** Gives up after this long (ms): default 24 hours (a slow download of a big shard by the other process). */
  timeoutMs?: number;
  /** Whether a process id is alive (tests stand in for dead ones). */
  alive?: (pid: number) => boolean;
}

/** Runs `work` holding `blob`'s lock. */
export async function withBlobLock<T>(blob: string, work: () => Promise<T>, o: BlobLockOptions = {}): Promise<T> {
  const lock = `${blob}.lock`;
  const alive = o.alive ?? processAlive;
  const deadline = Date.now() + (o.timeoutMs ?? 24 * 3600_000);
  for (;;) {
    const taken = await open(lock, 'wx').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'EEXIST') return null;
      throw new HubError(lock, `could not create the download lock: ${e.message}`);
    });
    if (taken) {
      try {
        await taken.writeFile(String(process.pid));
      } finally {
        await taken.close();
      }
      try {
        return await work();
      } finally {
        await rm(lock, { force: true });
      }
    }
    const holder = Number.parseInt(await readFile(lock, 'utf8').catch(() => ''), 10);
    // An empty file is a lock being written this instant; a dead holder's lock is stale.
    if (Number.isInteger(holder) && holder > 0 && !alive(holder)) {
      await rm(lock, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new HubError(lock, `another process (pid ${holder}) has held the download lock too long; remove the file if no download is running`);
    await new Promise((r) => setTimeout(r, o.pollMs ?? 250));
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's
  }
}
