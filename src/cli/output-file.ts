// The file a command writes (--out): checked before any work, so a typo in the path costs nothing, and
// written atomically, so a failure leaves either the old file or none, never half of a new one.
import { constants } from 'node:fs';
import { access, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { InputError } from '../errors.ts';

/** Throws an InputError naming `option` unless `path` can be written (its folder exists and is writable). */
export async function checkOutputFile(path: string, option = '--out'): Promise<void> {
  if (path.trim() === '') throw new InputError(option, 'is empty: give the file to write');
  const existing = await stat(path).catch(() => null);
  if (existing?.isDirectory()) throw new InputError(option, `${path} is a folder: give a file name inside it`);
  const folder = dirname(resolve(path));
  const info = await stat(folder).catch((e: NodeJS.ErrnoException) => e);
  if (info instanceof Error) {
    if (info.code === 'ENOENT') throw new InputError(option, `the folder ${folder} does not exist`);
    if (info.code === 'ENOTDIR') throw new InputError(option, `${folder} is not a folder (part of the path is a file)`);
    throw new InputError(option, `cannot use the folder ${folder}: ${info.message}`);
  }
  if (!info.isDirectory()) throw new InputError(option, `${folder} is not a folder`);
  await access(folder, constants.W_OK).catch(() => {
    throw new InputError(option, `the folder ${folder} is not writable`);
  });
}

/** Writes to a temporary name beside the target, then renames: rename within a folder is atomic. */
export async function writeFileAtomically(path: string, bytes: Uint8Array, option = '--out'): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Date.now().toString(36)}`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new InputError(option, `cannot write ${path}: ${(e as Error).message}`);
  }
}
