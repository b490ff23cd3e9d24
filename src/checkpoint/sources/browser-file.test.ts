// The picked-files folder with Node's File (the same Blob API as the browser's): directory picks with the
// model at the top or one level down, files picked one by one, and the errors. The browser suite picks a
// real folder through <input webkitdirectory> (browser-test/chromium.test.ts).
import { openAsBlob } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CheckpointError } from '../../errors.ts';
import { openCheckpoint } from '../checkpoint.ts';
import { fileFolder, type PickedFile } from './browser-file.ts';
import { openCheckpointDir } from './node-file.ts';

const FIXTURE = 'kernels-test/fixtures/tiny-v3';

/** A File as a directory picker makes it: webkitRelativePath is `picked-folder/.../name`. */
function picked(bytes: BlobPart, path: string): PickedFile {
  const file = new File([bytes], path.split('/').pop()!);
  Object.defineProperty(file, 'webkitRelativePath', { value: path });
  return file;
}

async function pickFolder(dir: string, prefix: string): Promise<PickedFile[]> {
  const names = await readdir(dir);
  return Promise.all(names.map(async (n) => picked(await openAsBlob(join(dir, n)), `${prefix}/${n}`)));
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);

describe('fileFolder', () => {
  it.each([
    ['the model folder', 'tiny-v3', 'tiny-v3'],
    ['the folder above it', 'models/tiny-v3', 'models/tiny-v3'],
  ])('a directory pick of %s reads the checkpoint as from disk', async (_, prefix, name) => {
    const files = await pickFolder(FIXTURE, prefix);
    files.push(picked('{}', `${prefix}/deeper/config.json`)); // the shallowest config.json marks the model
    const folder = fileFolder(files);
    expect(folder.name).toBe(name);
    expect(await folder.exists('config.json')).toBe(true);
    expect(JSON.parse(await folder.readText('config.json')).model_type).toBe('deepseek_v3');
    const fromFiles = await openCheckpoint(folder);
    const onDisk = await openCheckpointDir(FIXTURE);
    expect(fromFiles.names()).toEqual(onDisk.names());
    for (const n of fromFiles.names().filter((_, i) => i % 9 === 0)) {
      expect(sameBytes(await fromFiles.read(n), await onDisk.read(n)), n).toBe(true);
    }
    expect(fromFiles.info(fromFiles.names()[0]).file).toMatch(new RegExp(`^${name}/model-0000\\d-of-000003\\.safetensors$`));
    await onDisk.close();
  });

  it('files picked one by one are found by name', async () => {
    const folder = fileFolder([new File(['{"a":1}'], 'config.json'), new File([new Uint8Array(10)], 'x.bin')]);
    expect(folder.name).toBe('2 picked files');
    expect(await folder.readText('config.json')).toBe('{"a":1}');
    const x = await folder.open('x.bin');
    expect(x.size).toBe(10);
    expect((await x.read(2, 3)).length).toBe(3);
    await expect(x.read(8, 3)).rejects.toThrow(/x.bin: read of 3 bytes at 8 is outside the file's 10 bytes/);
  });

  it('a file that is not among the picked ones is a CheckpointError listing what was picked', async () => {
    const folder = fileFolder([picked('{}', 'm/config.json')]);
    await expect(folder.open('model.safetensors')).rejects.toThrow(CheckpointError);
    await expect(folder.open('model.safetensors')).rejects.toThrow(/m\/model.safetensors: no such file among the picked files \(config.json\)/);
    expect(await folder.exists('model.safetensors')).toBe(false);
    expect(() => fileFolder([])).toThrow(/no files were picked/);
  });

  it('a file that changed after it was picked: a failed or short slice is reported', async () => {
    const failing: PickedFile = {
      name: 'a.bin',
      size: 100,
      slice: () => ({ arrayBuffer: () => Promise.reject(new Error('NotReadableError')) }) as unknown as Blob,
    };
    const short: PickedFile = { name: 'b.bin', size: 100, slice: () => new Blob([new Uint8Array(3)]) };
    const folder = fileFolder([failing, short]);
    await expect((await folder.open('a.bin')).read(0, 10)).rejects.toThrow(/a.bin: cannot read bytes 0-9: NotReadableError/);
    await expect((await folder.open('b.bin')).read(0, 10)).rejects.toThrow(/b.bin: short read: asked for 10 bytes at 0, got 3/);
  });
});
