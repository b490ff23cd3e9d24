// `deepseek-webgpu pull owner/name[@revision]`: downloads what the engine reads of a Hugging Face model into
// the hub cache (shared with transformers and vLLM) and prints the snapshot folder. The same resolution runs
// for any `--model owner/name` (load-model.ts); the hub's environment variables are read by src/hub/settings.ts.
import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { InputError } from '../errors.ts';
import { progressBar } from './progress.ts';

export interface HubModelOptions {
  revision?: string;
  quiet?: boolean;
}

export function register(program: Command): void {
  program
    .command('pull')
    .description("download a Hugging Face model's config, tokenizer and weights into the hub cache; prints the folder")
    .argument('<model>', 'owner/name or owner/name@revision, e.g. deepseek-ai/DeepSeek-V2-Lite-Chat')
    .option('--revision <rev>', 'branch, tag or commit (default: main)')
    .option('--quiet', 'no progress bar or summary')
    .action(async (model: string, options: HubModelOptions) => {
      if (await stat(model).catch(() => undefined)) throw new InputError('pull', `'${model}' is a local path; pull takes a Hugging Face model id (owner/name)`);
      const { parseRepoId } = await import('../hub/repo-id.ts');
      parseRepoId(model, options.revision, 'pull'); // the InputError that says what is wrong with the id, if anything
      const resolved = await resolveHubModel(model, options);
      if (!options.quiet) {
        const size = `${(resolved.downloadedBytes / 2 ** 20).toFixed(1)} MiB`;
        const fetched = resolved.downloaded.length + resolved.reused.length;
        const source = resolved.fromCacheOnly
          ? 'from the cache, no request made'
          : fetched === 0
            ? 'all files already in the cache'
            : `downloaded ${resolved.downloaded.length} files (${size}), ${resolved.reused.length} found as blobs in the cache`;
        process.stderr.write(`[${resolved.repo}@${resolved.revision}: commit ${resolved.commit} · ${source}]\n`);
      }
      process.stdout.write(`${resolved.dir}\n`);
    });
}

/** resolveModel() with the CLI's progress bar; notes (the hub unreachable, the cache used) go to stderr. */
export async function resolveHubModel(model: string, options: HubModelOptions) {
  const { resolveModel } = await import('../hub/resolve.ts');
  const bar = progressBar(`downloading ${model}`, !options.quiet);
  try {
    return await resolveModel(model, {
      revision: options.revision,
      onProgress: (done, total) => bar.update(done, total),
      onNote: (text) => process.stderr.write(`[${text}]\n`),
    });
  } finally {
    bar.finish();
  }
}
