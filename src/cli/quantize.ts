// `deepseek-webgpu quantize --model DIR --out DIR2 --format q4`: writes the q4 saved form of a model folder
// (src/checkpoint/q4-folder.ts, docs/q4.md "Saved form"), so `--quantize q4` is paid once. The folder is
// built under a temporary name beside DIR2 and renamed when complete: a failure leaves no DIR2 at all.
import { constants } from 'node:fs';
import { access, copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { openModelFolder } from '../checkpoint/model-folder.ts';
import { q4ConfigJson, q4Shards } from '../checkpoint/q4-folder.ts';
import { nodeFolder } from '../checkpoint/sources/node-file.ts';
import { InputError } from '../errors.ts';
import { modelDir } from './load-model.ts';
import { progressBar } from './progress.ts';

interface QuantizeCliOptions {
  model?: string;
  out: string;
  format: 'q4';
  quiet?: boolean;
}

/** Files of the source folder the q4 folder writes itself (the rest: tokenizer, generation config... are copied). */
const REWRITTEN = (name: string) => name === 'config.json' || name === 'model.safetensors.index.json' || name.endsWith('.safetensors');

export function register(program: Command): void {
  program
    .command('quantize')
    .description('write a quantized copy of a model folder (the q4 saved form: 4-bit linear and expert weights)')
    .option('-m, --model <dir>', 'Hugging Face checkpoint folder (default: the embedded tiny-v3-trained)')
    .requiredOption('--out <dir>', 'the folder to create (must not exist)')
    .addOption(new Option('--format <format>', 'the quantized form').choices(['q4']).default('q4'))
    .option('--quiet', 'no progress bar')
    .action(async (options: QuantizeCliOptions) => {
      const dir = modelDir(options);
      const out = await checkOutputFolder(options.out);
      const start = performance.now();
      const written = await writeQ4Folder(dir, out, !options.quiet);
      if (!options.quiet) console.error(`[${((performance.now() - start) / 1000).toFixed(1)} s, ${(written / 2 ** 20).toFixed(1)} MiB of weights]`);
      process.stdout.write(`${out}\n`);
    });
}

/** `out` must not exist and its parent must be a writable folder; returns it resolved. */
async function checkOutputFolder(path: string): Promise<string> {
  if (path.trim() === '') throw new InputError('--out', 'is empty: give the folder to create');
  const out = resolve(path);
  if (await stat(out).then(() => true, () => false)) throw new InputError('--out', `${out} already exists; give a new folder (nothing is overwritten)`);
  const parent = dirname(out);
  const info = await stat(parent).catch(() => null);
  if (!info?.isDirectory()) throw new InputError('--out', `the folder ${parent} does not exist`);
  await access(parent, constants.W_OK).catch(() => {
    throw new InputError('--out', `the folder ${parent} is not writable`);
  });
  return out;
}

/** Writes the q4 form of `dir` as `out` (atomically: a temporary folder renamed at the end); returns the shard bytes. */
export async function writeQ4Folder(dir: string, out: string, progress = false): Promise<number> {
  const { config, checkpoint } = await openModelFolder(nodeFolder(dir));
  const tmp = join(dirname(out), `.${basename(out)}.tmp-${process.pid}-${Date.now().toString(36)}`);
  const bar = progressBar(`quantizing ${dir} to q4`, progress);
  let bytes = 0;
  try {
    if (config.quantization?.method === 'q4') throw new InputError('--model', `${dir} is already in the q4 form (quantization_config.quant_method ${config.quantization.method})`);
    await mkdir(tmp);
    const names = checkpoint.names().length;
    let done = 0;
    for await (const file of q4Shards(checkpoint, config, { onTensor: () => bar.update(++done, names) })) {
      await writeFile(join(tmp, file.name), file.bytes);
      if (file.name.endsWith('.safetensors')) bytes += file.bytes.length;
    }
    const source = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(join(tmp, 'config.json'), `${JSON.stringify(q4ConfigJson(source, config), null, 2)}\n`);
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.isFile() && !REWRITTEN(entry.name)) await copyFile(join(dir, entry.name), join(tmp, entry.name));
    }
    await rename(tmp, out);
    return bytes;
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  } finally {
    bar.finish();
    await checkpoint.close();
  }
}
