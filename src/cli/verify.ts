// `deepseek-webgpu verify --model DIR`: runs a few positions through the GPU engine and the CPU reference
// and reports how far apart their logits are — a check a user can run on a new checkpoint.
import type { Command } from 'commander';
import type { GlobalOptions } from './global-options.ts';
import { GpuError, InputError } from '../errors.ts';
import { parseTokenList } from './arguments.ts';
import { addModelOptions, checkModelOptions, loadModelFromCli, type ModelCliOptions } from './load-model.ts';

/** Per-row relative L2 the engine must stay within (the model issue's bound; measured ~1.5e-6). */
const TOLERANCE = 1e-4;

export function register(program: Command): void {
  addModelOptions(
    program
      .command('verify')
      .description('compare the GPU engine with the CPU reference on a few positions')
      .option('--tokens <ids>', 'token ids to run (default: 8 ids spread over the vocabulary)'),
  ).action(async (options: ModelCliOptions & { tokens?: string }, command: Command) => {
    const { fallback } = command.optsWithGlobals<GlobalOptions>();
    if (options.quantize) throw new InputError('--quantize', 'verify compares the engine with the reference on the same weights; quantizing changes them (run verify without --quantize)');
    const given = options.tokens === undefined ? null : parseTokenList(options.tokens);
    const { dir } = await checkModelOptions(options);
    // Loaded on use, as the engine is (see loadModelFromCli): the CLI starts without the model code.
    const [{ openModelFolder }, { nodeFolder }, { ReferenceModel }, { argmaxToken }] = await Promise.all([
      import('../checkpoint/model-folder.ts'),
      import('../checkpoint/sources/node-file.ts'),
      import('../reference/model.ts'),
      import('../reference/sample.ts'),
    ]);
    const folder = await openModelFolder(nodeFolder(dir));
    const V = folder.config.vocabSize;
    const tokens = given ?? Array.from({ length: 8 }, (_, i) => Math.floor(((i + 1) * V) / 9));
    const ref = await ReferenceModel.load(folder.checkpoint, folder.config, { mtp: false });
    const want = ref.forward(ref.newState(), tokens).logits;
    await folder.checkpoint.close();
    const engine = await loadModelFromCli(options, fallback);
    let worst = 0;
    let argmaxAgree = 0;
    try {
      const got = await engine.logits(tokens);
      for (let t = 0; t < tokens.length; t++) {
        const g = got.subarray(t * V, (t + 1) * V);
        const w = want.subarray(t * V, (t + 1) * V);
        let num = 0;
        let den = 0;
        for (let i = 0; i < V; i++) {
          num += (g[i] - w[i]) ** 2;
          den += w[i] ** 2;
        }
        const err = Math.sqrt(num / den);
        worst = Math.max(worst, Number.isNaN(err) ? Infinity : err);
        if (argmaxToken(g) === argmaxToken(w)) argmaxAgree++;
        process.stdout.write(`position ${t} (token ${tokens[t]}): relative L2 ${err.toExponential(2)}, argmax ${argmaxToken(g)} vs ${argmaxToken(w)}\n`);
      }
    } finally {
      await engine.dispose();
    }
    const ok = worst <= TOLERANCE && argmaxAgree === tokens.length;
    process.stdout.write(`${ok ? 'OK' : 'MISMATCH'}: worst relative L2 ${worst.toExponential(2)} (bound ${TOLERANCE}), argmax agrees at ${argmaxAgree}/${tokens.length} positions\n`);
    if (!ok) throw new GpuError(`the GPU engine disagrees with the CPU reference on ${dir}`);
  });
}

