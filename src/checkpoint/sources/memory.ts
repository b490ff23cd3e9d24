// A checkpoint folder held in memory: file name -> bytes. For checkpoints built on the fly (tests, the
// fuzzer in tools/fuzz) and for callers that already hold the files. Browser-safe.
import { CheckpointError } from '../../errors.ts';
import type { ByteSource, FolderSource } from '../byte-source.ts';

export function memoryFolder(files: ReadonlyMap<string, Uint8Array | string>, name = '(memory)'): FolderSource {
  const bytesOf = (fileName: string): Uint8Array => {
    const content = files.get(fileName);
    if (content === undefined) throw new CheckpointError(`${name}/${fileName}`, 'no such file');
    return typeof content === 'string' ? new TextEncoder().encode(content) : content;
  };
  return {
    name,
    open: async (fileName) => memorySource(`${name}/${fileName}`, bytesOf(fileName)),
    readText: async (fileName) => new TextDecoder().decode(bytesOf(fileName)),
    exists: async (fileName) => files.has(fileName),
  };
}

function memorySource(name: string, bytes: Uint8Array): ByteSource {
  return {
    name,
    size: bytes.length,
    read: async (offset, length) => {
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > bytes.length) {
        throw new CheckpointError(name, `read of ${length} bytes at ${offset} is outside the file's ${bytes.length} bytes`);
      }
      return bytes.slice(offset, offset + length);
    },
  };
}
