// loadTokenizer: a real model folder, a folder without a tokenizer (null, not an error) and broken folders
// (CheckpointError naming the folder or file).
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CheckpointError } from '../errors.ts';
import { loadTokenizer } from './load-node.ts';

const DIR = 'weights/tiny-v3-trained';
const made: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tokenizer-test-'));
  made.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(made.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

describe('loadTokenizer', () => {
  it('loads a model folder and labels errors with its files', async () => {
    const tok = await loadTokenizer(DIR);
    expect(tok?.vocabSize).toBe(4096);
    expect(tok?.encode('Blessed are the')).toEqual([0, 71, 3096, 449, 264]);
    expect(tok?.configFile).toBe(`${DIR}/tokenizer_config.json`);
  });

  it('returns null for a checkpoint folder without tokenizer files', async () => {
    expect(await loadTokenizer(await tempDir())).toBeNull();
  });

  it('names the folder when it does not exist or has only one of the two files', async () => {
    await expect(loadTokenizer('/nonexistent/model')).rejects.toThrow(/\/nonexistent\/model: checkpoint folder does not exist/);
    const dir = await tempDir();
    await copyFile(join(DIR, 'tokenizer.json'), join(dir, 'tokenizer.json'));
    await expect(loadTokenizer(dir)).rejects.toThrow(CheckpointError);
    await expect(loadTokenizer(dir)).rejects.toThrow(`${dir}: has tokenizer.json but no tokenizer_config.json`);
  });

  it('names the file that is not valid JSON or not a tokenizer', async () => {
    const dir = await tempDir();
    await copyFile(join(DIR, 'tokenizer.json'), join(dir, 'tokenizer.json'));
    await writeFile(join(dir, 'tokenizer_config.json'), '{"add_bos_token": tru');
    await expect(loadTokenizer(dir)).rejects.toThrow(`${dir}/tokenizer_config.json: not valid JSON`);
    await writeFile(join(dir, 'tokenizer_config.json'), '{}');
    await writeFile(join(dir, 'tokenizer.json'), '{"version": "1.0"}');
    await expect(loadTokenizer(dir)).rejects.toThrow(`${dir}/tokenizer.json: not a tokenizer.json`);
    await writeFile(join(dir, 'tokenizer.json'), '{"model": {"type": "NoSuchModel"}}');
    await expect(loadTokenizer(dir)).rejects.toThrow(`${dir}/tokenizer.json: the tokenizer cannot be built from it`);
  });

  it('names tokenizer_config.json when its BOS is not in the vocabulary', async () => {
    const dir = await tempDir();
    await copyFile(join(DIR, 'tokenizer.json'), join(dir, 'tokenizer.json'));
    await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ add_bos_token: true, bos_token: '<s>' }));
    await expect(loadTokenizer(dir)).rejects.toThrow(`${dir}/tokenizer_config.json: bos_token '<s>' is not in the vocabulary`);
  });
});
