// `deepseek-webgpu tune [--model DIR]`: times each kernel's candidate launch shapes on this adapter at the
// model's real shapes (src/tune/tuner.ts), keeps the fastest that still matches the reference, and caches the
// result for this adapter and driver (src/tune/tune-cache-node.ts), where loading a model finds it. Prints a
// table: kernel, default, tuned, speed-up.
import type { Command } from 'commander';
import type { GlobalOptions } from './global-options.ts';
import { InputError } from '../errors.ts';
import type { Gpu } from '../gpu/device.ts';
import type { TuneRecord } from '../tune/tune-record.ts';
import { TUNE_CANDIDATES } from '../tune/candidates.ts';
import { modelDir, parseIntOption } from './load-model.ts';

/** Checkpoints up to this size are checked against the CPU reference; larger ones against the default profile. */
const CPU_REFERENCE_MAX_BYTES = 2 ** 31;

export interface TuneRun {
  dir: string;
  /** Only these kernels (shader names); default every kernel the model's steps run. */
  kernels?: string[];
  /** Positions of the prefill chunk tuned (default: the load's prefill chunk, 64). */
  prefill?: number;
  reps?: number;
  samples?: number;
  /** Where the record goes (default tuneCacheDir()); null: not written. */
  cacheDir?: string | null;
  log?: (line: string) => void;
}

export function register(program: Command): void {
  program
    .command('tune')
    .description("time each kernel's launch shapes on this adapter at the model's shapes and cache the fastest correct ones for it")
    .option('-m, --model <dir>', 'the checkpoint folder to tune on (default: the embedded tiny-v3-trained)')
    .option('--kernel <names>', 'only these kernels, comma-separated (e.g. matmul,rmsnorm)')
    .option('--prefill <n>', 'positions of the prefill chunk (default 64)')
    .option('--reps <n>', "replays of a kernel's dispatches per timing", '8')
    .option('--samples <n>', 'timings per candidate (the median counts)', '5')
    .option('--cache-dir <dir>', 'where to keep the result (default: $XDG_CACHE_HOME or ~/.cache, then deepseek-webgpu/tune)')
    .option('--dry-run', 'print the table, keep nothing')
    .option('--json', 'print the record as JSON')
    .action(async (o: { model?: string; kernel?: string; prefill?: string; reps: string; samples: string; cacheDir?: string; dryRun?: boolean; json?: boolean }, command: Command) => {
      const { fallback } = command.optsWithGlobals<GlobalOptions>();
      const kernels = o.kernel?.split(',').map((k) => k.trim()).filter(Boolean);
      const unknown = kernels?.filter((k) => !TUNE_CANDIDATES[k]) ?? [];
      if (unknown.length) throw new InputError('--kernel', `no tunable kernel '${unknown.join("', '")}'; the kernels are ${Object.keys(TUNE_CANDIDATES).join(', ')}`);
      const run: TuneRun = {
        dir: modelDir(o),
        kernels,
        prefill: parseIntOption(o.prefill, '--prefill', 1),
        reps: parseIntOption(o.reps, '--reps', 1),
        samples: parseIntOption(o.samples, '--samples', 1),
        cacheDir: o.dryRun ? null : o.cacheDir,
        log: o.json ? () => {} : (line) => process.stderr.write(`${line}\n`),
      };
      const { createNodeGpu } = await import('../gpu/node-webgpu.ts');
      const gpu = await createNodeGpu({ fallback });
      try {
        const { record, path } = await runTune(gpu, run);
        process.stdout.write(`${o.json ? JSON.stringify(record, null, 2) : formatTuneTable(record, path)}\n`);
      } finally {
        gpu.destroy();
      }
    });
}

/** Loads the model, tunes, and writes the record (unless run.cacheDir is null). */
export async function runTune(gpu: Gpu, run: TuneRun): Promise<{ record: TuneRecord; path: string | null }> {
  const [{ openModelFolder }, { nodeFolder }, { DeepseekModel, adapterProfile }, { ReferenceModel }, { candidatesFor }, { tuneModel }, { adapterIdentity }, { writeTuneRecord, tuneCacheDir }] = await Promise.all([
    import('../checkpoint/model-folder.ts'),
    import('../checkpoint/sources/node-file.ts'),
    import('../model/deepseek-model.ts'),
    import('../reference/model.ts'),
    import('../tune/candidates.ts'),
    import('../tune/tuner.ts'),
    import('../tune/tune-record.ts'),
    import('../tune/tune-cache-node.ts'),
  ]);
  const log = run.log ?? (() => {});
  const folder = await openModelFolder(nodeFolder(run.dir));
  try {
    const c = folder.config;
    const chunk = run.prefill ?? 64;
    const P = Math.min(chunk, c.maxPositionEmbeddings - 1);
    // The default profile of this adapter: tune starts from it, whatever a previous tune cached.
    const base = adapterProfile(gpu);
    const model = await DeepseekModel.load(gpu, folder, { prefillChunk: chunk, contextLength: P + 1, mtp: false, profile: base });
    try {
      const prompt = Array.from({ length: P }, (_, i) => (i * 7919 + 13) % c.vocabSize);
      const next = (P * 31 + 5) % c.vocabSize;
      const bytes = folder.checkpoint.names().reduce((n, name) => n + folder.checkpoint.info(name).end - folder.checkpoint.info(name).begin, 0);
      let reference;
      if (bytes <= CPU_REFERENCE_MAX_BYTES) {
        log(`reference: the CPU reference model (src/reference) on ${P + 1} positions`);
        const ref = await ReferenceModel.load(folder.checkpoint, c, { mtp: false });
        reference = { logits: ref.forward(ref.newState(), [...prompt, next]).logits, source: 'the CPU reference' };
      } else {
        log(`reference: the default profile's logits (the checkpoint is too large for the CPU reference)`);
        reference = { logits: await model.appendLogits([...prompt, next]), source: `the default profile '${base.name}'` };
        model.truncate(0);
      }
      const maxThreads = Math.min(gpu.limits.maxComputeInvocationsPerWorkgroup, gpu.limits.maxComputeWorkgroupSizeX);
      let candidates = candidatesFor(base, maxThreads, model.attentionWorkgroups);
      if (run.kernels) candidates = Object.fromEntries(run.kernels.filter((k) => candidates[k]).map((k) => [k, candidates[k]]));
      log(`tuning the '${base.name}' profile on ${gpu.adapterInfo.description || gpu.adapterInfo.device || gpu.adapterInfo.vendor}: a ${P}-position prefill and a decode step of ${run.dir}`);
      const result = await tuneModel(model, prompt, next, reference, { candidates, reps: run.reps, samples: run.samples, log });
      for (const line of result.rejected) log(`refused (wrong results): ${line}`);
      const record: TuneRecord = {
        version: 1,
        adapter: adapterIdentity(gpu.adapterInfo),
        base: base.name,
        changes: result.changes,
        model: run.dir,
        created: new Date().toISOString(),
        table: result.table,
      };
      const path = run.cacheDir === null ? null : await writeTuneRecord(record, run.cacheDir ?? tuneCacheDir());
      return { record, path };
    } finally {
      model.dispose();
    }
  } finally {
    await folder.checkpoint.close();
  }
}

/** The table: kernel, default, tuned, speed-up; then where the record went. */
export function formatTuneTable(record: TuneRecord, path: string | null): string {
  const rows = record.table.map((r) => {
    const same = new Set(r.default.split(' '));
    const changed = r.tuned.split(' ').filter((k) => !same.has(k)).join(' ') || 'the default';
    return [r.kernel, `${r.default}  ${r.defaultMs.toFixed(3)} ms`, `${changed}  ${r.tunedMs.toFixed(3)} ms`, `${(r.defaultMs / r.tunedMs).toFixed(2)}x`];
  });
  const all = [['kernel', 'default', 'tuned', 'speed-up'], ...rows];
  const widths = all[0].map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const lines = all.map((r) => r.map((cell, i) => (i === 3 ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join('  ').trimEnd());
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  const changed = Object.keys(record.changes).length;
  lines.push('', path ? `kept for this adapter (${changed ? `${changed} kernel${changed > 1 ? 's' : ''} changed` : 'the defaults won'}): ${path}` : 'not kept (--dry-run)');
  return lines.join('\n');
}
