// `deepseek-webgpu logits`: runs token ids through a backend and writes every position's logits (and, with
// --mtp, the MTP module's) as a safetensors file — how the engine is checked against reference outputs.
// Output tensors: `tokens` I32 [T], `logits` F32 [T, vocab] (row t scores the token after tokens[t]),
// `hidden_final_norm` F32 [T, hidden], and with --mtp `mtp_logits` F32 [T-1, vocab] (row i predicts
// token i+2 from the hidden state at i and token i+1).
import { Option, type Command } from 'commander';
import { encodeSafetensors, type OutputTensor } from '../checkpoint/safetensors-writer.ts';
import { InputError } from '../errors.ts';
import type { GlobalOptions } from './global-options.ts';
import { parseTokenList } from './arguments.ts';
import { addModelOptions, loadModelFromCli, modelDir, resolveModelDir, type ModelCliOptions } from './load-model.ts';
import { checkOutputFile, writeFileAtomically } from './output-file.ts';

interface LogitsOptions extends ModelCliOptions {
  tokens: string;
  out: string;
  backend: 'webgpu' | 'reference';
  mtp?: boolean;
}

export function register(program: Command): void {
  addModelOptions(
    program
      .command('logits')
      .description('write the logits of every position of a token sequence to a safetensors file')
      .requiredOption('--tokens <ids>', 'comma-separated token ids, e.g. 0,15,27')
      .requiredOption('--out <file>', 'output .safetensors file')
      .addOption(
        new Option('--backend <name>', 'webgpu: the engine; reference: the plain-TypeScript CPU model').choices(['webgpu', 'reference']).default('webgpu'),
      )
      .option('--mtp', 'also run the multi-token-prediction module and write mtp_logits'),
  ).action(async (options: LogitsOptions, command: Command) => {
    // Everything that can be checked without the model is, so a bad argument fails in milliseconds.
    const tokens = parseTokenList(options.tokens);
    await checkOutputFile(options.out);
    const model = modelDir(options);
    const { fallback } = command.optsWithGlobals<GlobalOptions>();
    const tensors = options.backend === 'reference' ? await referenceOutputs(options, tokens) : await gpuOutputs(options, tokens, fallback);
    await writeFileAtomically(options.out, encodeSafetensors(tensors, { backend: options.backend, model }));
    if (!options.quiet) console.error(`wrote ${tensors.map((t) => `${t.name} [${t.shape}]`).join(', ')} to ${options.out}`);
  });
}

function outputTensors(tokens: number[], vocab: number, hiddenSize: number, logits: Float32Array, hidden: ArrayLike<number>): OutputTensor[] {
  const T = tokens.length;
  return [
    { name: 'tokens', dtype: 'I32', shape: [T], data: Int32Array.from(tokens) },
    { name: 'logits', dtype: 'F32', shape: [T, vocab], data: logits },
    { name: 'hidden_final_norm', dtype: 'F32', shape: [T, hiddenSize], data: Float32Array.from(hidden) },
  ];
}

async function referenceOutputs(options: LogitsOptions, tokens: number[]): Promise<OutputTensor[]> {
  const dir = await resolveModelDir(options);
  // Loaded on use, as the engine is (see loadModelFromCli): the CLI starts without the model code.
  const [{ openModelFolder }, { nodeFolder }, { ReferenceModel }] = await Promise.all([
    import('../checkpoint/model-folder.ts'),
    import('../checkpoint/sources/node-file.ts'),
    import('../reference/model.ts'),
  ]);
  const { config, checkpoint } = await openModelFolder(nodeFolder(dir));
  try {
    if (options.mtp && config.numNextnPredictLayers === 0) throw new InputError('--mtp', `${dir} has no MTP module (num_nextn_predict_layers is 0)`);
    const model = await ReferenceModel.load(checkpoint, config, { mtp: Boolean(options.mtp) });
    const state = model.newState();
    const { logits, hidden } = model.forward(state, tokens);
    const out = outputTensors(tokens, config.vocabSize, config.hiddenSize, logits, hidden);
    if (options.mtp) {
      const rows = tokens.length - 1;
      const mtp = rows > 0 ? model.mtp(state, hidden.subarray(0, rows * config.hiddenSize), tokens.slice(1)) : new Float32Array(0);
      out.push({ name: 'mtp_logits', dtype: 'F32', shape: [rows, config.vocabSize], data: mtp });
    }
    return out;
  } finally {
    await checkpoint.close();
  }
}

async function gpuOutputs(options: LogitsOptions, tokens: number[], fallback: GlobalOptions['fallback']): Promise<OutputTensor[]> {
  const engine = await loadModelFromCli(options, fallback);
  try {
    const c = engine.config;
    if (options.mtp && c.numNextnPredictLayers === 0) throw new InputError('--mtp', `${engine.folder.folder.name} has no MTP module (num_nextn_predict_layers is 0)`);
    const { logits, hidden } = await engine.model.appendOutputs(tokens);
    const out = outputTensors(tokens, c.vocabSize, c.hiddenSize, logits, hidden);
    if (options.mtp) {
      const rows = tokens.length - 1;
      const mtp = rows > 0 ? await engine.model.appendMtpLogits(hidden.subarray(0, rows * c.hiddenSize), tokens.slice(1)) : new Float32Array(0);
      out.push({ name: 'mtp_logits', dtype: 'F32', shape: [rows, c.vocabSize], data: mtp });
    }
    return out;
  } finally {
    await engine.dispose();
  }
}
