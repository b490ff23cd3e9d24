// A text file a command reads (--file): read whole before the model loads, so a wrong path or a binary
// file is reported in milliseconds rather than after the weights are uploaded.
import { readFile } from 'node:fs/promises';
import { InputError } from '../errors.ts';

/** The file's text; an InputError naming `option` when it is missing, a folder, unreadable or not UTF-8. */
export async function readTextFile(path: string, option = '--file'): Promise<string> {
  if (path.trim() === '') throw new InputError(option, 'is empty: give the text file to read');
  const bytes = await readFile(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') throw new InputError(option, `${path} does not exist`);
    if (e.code === 'EISDIR') throw new InputError(option, `${path} is a folder, not a text file`);
    throw new InputError(option, `cannot read ${path}: ${e.message}`);
  });
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new InputError(option, `${path} is not UTF-8 text`);
  }
}
