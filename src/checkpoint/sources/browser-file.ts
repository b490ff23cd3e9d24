// A checkpoint folder the user picked in the page (`<input type=file webkitdirectory>`, drag and drop, or
// several files chosen at once): each read is `file.slice(a, b).arrayBuffer()`, so a 4 GB shard is never
// loaded whole. Browser-safe; also runs in Node 20, which has File and Blob.
import { CheckpointError } from '../../errors.ts';
import type { ByteSource, FolderSource } from '../byte-source.ts';

/** What is used of a File: its name, size, folder-relative path (directory pickers set it) and slice(). */
export type PickedFile = Pick<File, 'name' | 'size' | 'slice'> & { readonly webkitRelativePath?: string };

/**
 * The picked files as a folder. With a directory pick, every path is relative to the folder that holds the
 * shallowest config.json, so picking the model folder or the folder above it both work; files picked one by
 * one are addressed by their names.
 */
export function fileFolder(files: ArrayLike<PickedFile> | Iterable<PickedFile>, name?: string): FolderSource {
  const list = Array.from(files as ArrayLike<PickedFile>);
  if (list.length === 0) throw new CheckpointError(name ?? '(picked files)', 'no files were picked');
  const paths = list.map((f) => (f.webkitRelativePath || f.name).replace(/^\/+/, ''));
  const root = rootOf(paths);
  const byName = new Map<string, PickedFile>();
  paths.forEach((path, i) => {
    if (path.startsWith(root)) byName.set(path.slice(root.length), list[i]);
  });
  const folderName = name ?? (root ? root.replace(/\/$/, '') : `${list.length} picked files`);

  const get = (fileName: string): PickedFile => {
    const file = byName.get(fileName);
    if (!file) throw new CheckpointError(`${folderName}/${fileName}`, `no such file among the picked files (${[...byName.keys()].slice(0, 8).join(', ')}${byName.size > 8 ? ', ...' : ''})`);
    return file;
  };
  return {
    name: folderName,
    open: async (fileName) => new FileSource(`${folderName}/${fileName}`, get(fileName)),
    readText: async (fileName) => {
      const bytes = await new FileSource(`${folderName}/${fileName}`, get(fileName)).readAll();
      return new TextDecoder().decode(bytes);
    },
    exists: async (fileName) => byName.has(fileName),
  };
}

class FileSource implements ByteSource {
  readonly size: number;

  constructor(
    readonly name: string,
    private readonly file: PickedFile,
  ) {
    this.size = file.size;
  }

  readAll(): Promise<Uint8Array> {
    return this.read(0, this.size);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new CheckpointError(this.name, `read of ${length} bytes at ${offset} is outside the file's ${this.size} bytes`);
    }
    let buffer: ArrayBuffer;
    try {
      buffer = await this.file.slice(offset, offset + length).arrayBuffer();
    } catch (e) {
      // Browsers throw NotReadableError when the file changed or was removed after it was picked.
      throw new CheckpointError(this.name, `cannot read bytes ${offset}-${offset + length - 1}: ${(e as Error)?.message ?? e} (pick the file again if it changed on disk)`);
    }
    if (buffer.byteLength !== length) {
      throw new CheckpointError(this.name, `short read: asked for ${length} bytes at ${offset}, got ${buffer.byteLength} (the file changed after it was picked?)`);
    }
    return new Uint8Array(buffer);
  }
}

/** The folder prefix ('' or 'a/b/') of the shallowest config.json; else the common top folder of a directory pick. */
function rootOf(paths: string[]): string {
  const configs = paths.filter((p) => p === 'config.json' || p.endsWith('/config.json'));
  if (configs.length > 0) {
    const shallowest = configs.reduce((a, b) => (b.split('/').length < a.split('/').length ? b : a));
    return shallowest.slice(0, shallowest.length - 'config.json'.length);
  }
  const tops = new Set(paths.map((p) => (p.includes('/') ? p.slice(0, p.indexOf('/') + 1) : '')));
  return tops.size === 1 ? [...tops][0] : '';
}
