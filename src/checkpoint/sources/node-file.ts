// Node-only byte sources: positioned reads on a file handle (never whole-file reads; V3 shards are ~4 GB),
// and a folder of such files. Import only from Node entry points, never from browser-safe modules.
import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointError } from '../../errors.ts';
import type { ByteSource, FolderSource } from '../byte-source.ts';
import { openCheckpoint, type Checkpoint, type OpenOptions } from '../checkpoint.ts';

/** Opens `path` for random reads; a missing file or a directory is a CheckpointError naming the path. */
export async function openNodeFile(path: string): Promise<ByteSource> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    throw new CheckpointError(path, describe(e));
  }
  const info = await handle.stat();
  if (!info.isFile()) {
    await handle.close();
    throw new CheckpointError(path, 'not a regular file');
  }
  return new NodeFileSource(path, info.size, handle);
}

class NodeFileSource implements ByteSource {
  constructor(
    readonly name: string,
    readonly size: number,
    private readonly handle: FileHandle,
  ) {}

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new CheckpointError(this.name, `read of ${length} bytes at ${offset} is outside the file's ${this.size} bytes`);
    }
    const out = new Uint8Array(length);
    // One read may return less than asked (large reads are capped near 2 GiB); loop until done or EOF.
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(out, done, length - done, offset + done);
      if (bytesRead === 0) {
        throw new CheckpointError(
          this.name,
          `truncated: needed bytes [${offset}, ${offset + length}) but the file ends at ${offset + done}`,
        );
      }
      done += bytesRead;
    }
    return out;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** A checkpoint folder on disk. File names are relative to `dir`. */
export function nodeFolder(dir: string): FolderSource {
  const path = (fileName: string) => join(dir, fileName);
  return {
    name: dir,
    open: async (fileName) => {
      await requireFolder(dir);
      return openNodeFile(path(fileName));
    },
    readText: async (fileName) => {
      await requireFolder(dir);
      try {
        return await readFile(path(fileName), 'utf8');
      } catch (e) {
        throw new CheckpointError(path(fileName), describe(e));
      }
    },
    exists: async (fileName) => {
      await requireFolder(dir);
      return stat(path(fileName)).then(
        (s) => s.isFile(),
        () => false,
      );
    },
  };
}

/** openCheckpoint over a directory on disk. */
export function openCheckpointDir(dir: string, options: OpenOptions = {}): Promise<Checkpoint> {
  return openCheckpoint(nodeFolder(dir), options);
}

async function requireFolder(dir: string): Promise<void> {
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) throw new CheckpointError(dir, info ? 'not a folder' : 'checkpoint folder does not exist');
}

function describe(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  return (e as Error).message;
}
