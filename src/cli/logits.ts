// `deepseek-webgpu logits`: runs token ids through a backend and writes every position's logits (and, with
// --mtp, the MTP module's) as a safetensors file — how the engine is checked against reference outputs.
// Output tensors: `tokens` I32 [T], `logits` F32 [T, vocab] (row t scores the token after tokens[t]),
// `hidden_final_norm` F32 [T, hidden], and with --mtp `mtp_logits` F32 [T-1, vocab] (row i predicts
// token i+2 from the hidden state at i and token i+1).
import { rename, rm, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { openModelFolder } from '../checkpoint/model-folder.ts';
import { encodeSafetensors, type OutputTensor } from '../checkpoint/safetensors-writer.ts';
import { nodeFolder } from '../checkpoint/sources/node-file.ts';
import { InputError } from '../errors.ts';
import { ReferenceModel } from '../reference/model.ts';
import { parseTokenList } from './arguments.ts';

interface LogitsOptions {
  model: string;
  tokens: string;
  out: string;
  backend: 'reference';
  mtp?: boolean;
}

export function register(program: Command): void {
  program
    .command('logits')
    .description('write the logits of every position of a token sequence to a safetensors file')
    .requiredOption('--model <dir>', 'Hugging Face checkpoint folder (config.json + safetensors)')
    .requiredOption('--tokens <ids>', 'comma-separated token ids, e.g. 0,15,27')
    .requiredOption('--out <file>', 'output .safetensors file')
    .option('--backend <name>', 'reference: the plain-TypeScript CPU model (the GPU backend arrives with the model)', 'reference')
    .option('--mtp', 'also run the multi-token-prediction module and write mtp_logits')
    .action(async (options: LogitsOptions) => {
      if (options.backend !== 'reference') throw new InputError('--backend', `got '${options.backend}'; available: reference`);
      const tokens = parseTokenList(options.tokens);
      const tensors = await referenceLogits(options.model, tokens, Boolean(options.mtp));
      await writeAtomically(options.out, encodeSafetensors(tensors, { backend: options.backend, model: options.model }));
      console.error(`wrote ${tensors.map((t) => `${t.name} [${t.shape}]`).join(', ')} to ${options.out}`);
    });
}

async function referenceLogits(dir: string, tokens: number[], mtp: boolean): Promise<OutputTensor[]> {
  const { config, checkpoint } = await openModelFolder(nodeFolder(dir));
  try {
    if (mtp && config.numNextnPredictLayers === 0) throw new InputError('--mtp', `${dir} has no MTP module (num_nextn_predict_layers is 0)`);
    const model = await ReferenceModel.load(checkpoint, config, { mtp });
    const state = model.newState();
    const T = tokens.length;
    const { logits, hidden } = model.forward(state, tokens);
    const out: OutputTensor[] = [
      { name: 'tokens', dtype: 'I32', shape: [T], data: Int32Array.from(tokens) },
      { name: 'logits', dtype: 'F32', shape: [T, config.vocabSize], data: logits },
      { name: 'hidden_final_norm', dtype: 'F32', shape: [T, config.hiddenSize], data: Float32Array.from(hidden) },
    ];
    if (mtp) {
      const rows = T - 1;
      const mtpLogits = rows > 0 ? model.mtp(state, hidden.subarray(0, rows * config.hiddenSize), tokens.slice(1)) : new Float32Array(0);
      out.push({ name: 'mtp_logits', dtype: 'F32', shape: [rows, config.vocabSize], data: mtpLogits });
    }
    return out;
  } finally {
    await checkpoint.close();
  }
}

/** Write to a temporary name beside the target, then rename: an interrupted run leaves no half file. */
async function writeAtomically(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new InputError('--out', `cannot write ${path}: ${(e as Error).message}`);
  }
}
