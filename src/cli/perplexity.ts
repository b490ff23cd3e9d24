// `deepseek-webgpu perplexity --file TEXT`: how well the model predicts a text (src/eval/perplexity.ts):
// nats per token and perplexity over whole non-overlapping windows, and with --mtp the MTP head's figure.
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { GlobalOptions } from './global-options.ts';
import { InputError } from '../errors.ts';
import { DEFAULT_WINDOW, type PerplexityResult } from '../eval/perplexity.ts';
import { readTextFile } from './input-file.ts';
import { addModelOptions, checkModelOptions, loadModelFromCli, parseIntOption, readConfigJson, type ModelCliOptions } from './load-model.ts';
import { progressBar } from './progress.ts';

interface PerplexityCliOptions extends ModelCliOptions {
  file: string;
  window: string;
  maxWindows?: string;
  mtp?: boolean;
  json?: boolean;
}

// A window is one forward submission up to this many rows; beyond it the scratch (logits alone are rows x
// vocab floats: 133 MB for DeepSeek-V3 at 257 rows) grows for little gain, and longer windows run in chunks.
const MAX_PREFILL_CHUNK = 257;

export function register(program: Command): void {
  addModelOptions(
    program
      .command('perplexity')
      .description('score a text file: nats per token and perplexity over non-overlapping windows')
      .requiredOption('--file <path>', 'UTF-8 text; documents separated by lines holding only the byte 0x1E')
      .option('--window <n>', 'next-token predictions per window (windows of n + 1 tokens, each from an empty cache)', String(DEFAULT_WINDOW))
      .option('--max-windows <n>', 'score only the first n windows')
      .option('--mtp', "also score the MTP head's predictions of the token after next")
      .option('--json', 'print one JSON object'),
  ).action(async (options: PerplexityCliOptions, command: Command) => {
    const { fallback } = command.optsWithGlobals<GlobalOptions>();
    // Everything that can be checked without the model is, so a bad argument fails in milliseconds.
    const window = parseIntOption(options.window, '--window', 1)!;
    const maxWindows = parseIntOption(options.maxWindows, '--max-windows', 1);
    const text = await readTextFile(options.file);
    const { dir, contextLength } = await checkModelOptions(options);
    await checkAgainstConfig(dir, window, contextLength, Boolean(options.mtp));
    // Nothing longer than a window is ever cached, and a model loaded without --mtp skips the MTP weights.
    const engine = await loadModelFromCli(options, fallback, { contextLength: window + 1, prefillChunk: Math.min(window + 1, MAX_PREFILL_CHUNK), mtp: Boolean(options.mtp) });
    const bar = progressBar(`scoring ${options.file}`, !options.quiet);
    const start = performance.now();
    let result: PerplexityResult;
    try {
      result = await engine.perplexity(text, {
        window,
        maxWindows,
        mtp: options.mtp,
        onProgress: (done, total, sofar) => bar.update(done, total, `${sofar.nats.toFixed(4)} nats/token so far, window`),
      });
    } finally {
      bar.finish();
      await engine.dispose();
    }
    const seconds = (performance.now() - start) / 1000;
    process.stdout.write(options.json ? `${JSON.stringify(jsonReport(result, seconds))}\n` : textReport(result));
    if (!options.json && !options.quiet) console.error(`[${seconds.toFixed(1)} s, ${(result.tokens / seconds).toFixed(1)} tokens/s]`);
  });
}

/**
 * --window against the context, --mtp against the MTP module and the tokenizer --file needs, from the folder
 * before anything loads (a folder without config.json is left to the loader to report).
 */
async function checkAgainstConfig(dir: string, window: number, contextLength: number | undefined, mtp: boolean): Promise<void> {
  const config = await readConfigJson(dir);
  const max = config?.max_position_embeddings;
  const limit = contextLength ?? (typeof max === 'number' ? max : undefined);
  if (limit !== undefined && window + 1 > limit) {
    const what = contextLength !== undefined ? '--context-length' : "the model's max_position_embeddings";
    throw new InputError('--window', `${window} predictions need windows of ${window + 1} positions; ${what} is ${limit}`);
  }
  if (mtp && config && !(Number(config.num_nextn_predict_layers ?? 0) > 0)) {
    throw new InputError('--mtp', `${dir} has no MTP module (num_nextn_predict_layers is ${config.num_nextn_predict_layers ?? 'absent'})`);
  }
  if (config && !(await access(join(dir, 'tokenizer.json')).then(() => true, () => false))) {
    throw new InputError('--model', `${dir} has no tokenizer (tokenizer.json or tiktoken.model) to tokenize --file with`);
  }
}

function jsonReport(r: PerplexityResult, seconds: number): Record<string, unknown> {
  const report: Record<string, unknown> = { nats_per_token: r.nats, perplexity: r.perplexity, tokens: r.tokens, windows: r.windows, window: r.window, seconds };
  if (r.mtp) report.mtp = { nats_per_token: r.mtp.nats, perplexity: r.mtp.perplexity, predictions: r.mtp.predictions, nats_per_prediction: r.mtp.natsPerPrediction };
  return report;
}

function textReport(r: PerplexityResult): string {
  const lines = [`next token: ${r.nats.toFixed(5)} nats/token, perplexity ${r.perplexity.toFixed(3)} (${r.tokens} tokens, ${r.windows} windows of ${r.window + 1})`];
  if (r.mtp) {
    lines.push(
      `MTP (t+2):  ${r.mtp.nats.toFixed(5)} nats/token, perplexity ${r.mtp.perplexity.toFixed(3)} ` +
        `(${r.mtp.predictions} predictions, ${r.mtp.natsPerPrediction.toFixed(5)} each; the sum is divided by the ${r.tokens} tokens, as training reports it)`,
    );
  }
  return `${lines.join('\n')}\n`;
}
