// Perplexity of a model on a token stream (eval/README.md has the procedure this follows): whole windows of
// `window + 1` tokens, each run from an empty cache, every next-token prediction scored by cross-entropy;
// with `mtp`, the MTP head's predictions of the token after next too. Device-independent: the model is
// anything that can run a window, so the GPU engine and the CPU reference are measured by the same code.
import { InputError } from '../errors.ts';
import { crossEntropySum } from './cross-entropy.ts';
import { windowStarts } from './windows.ts';

/** What perplexity needs of a model: one window at a time, each as a sequence of its own. */
export interface WindowModel {
  readonly vocabSize: number;
  /** Positions one sequence may hold (a window needs window + 1). */
  readonly maxLength: number;
  readonly hasMtp: boolean;
  /**
   * Runs `tokens` from an empty context. `logits` [T, vocab]: row t predicts tokens[t + 1]. With `mtp`,
   * `mtpLogits` [T - 2, vocab]: row i comes from the hidden state at i and tokens[i + 1] and predicts
   * tokens[i + 2] (the rows whose target lies inside the window).
   */
  runWindow(tokens: readonly number[], mtp: boolean): Promise<{ logits: Float32Array; mtpLogits?: Float32Array }>;
}

export interface PerplexityOptions {
  /** Next-token predictions per window (windows hold window + 1 tokens); default 256. */
  window?: number;
  /** Also score the MTP head (the model must have one). */
  mtp?: boolean;
  /** Score only the first this many windows. */
  maxWindows?: number;
  /** After each window: windows done, windows in all, and the figures so far. */
  onProgress?: (done: number, total: number, sofar: PerplexityResult) => void;
  /** Checked between windows; an aborted run throws the signal's reason. */
  signal?: AbortSignal;
}

export interface PerplexityResult {
  /** Mean next-token cross-entropy in nats per token. */
  nats: number;
  /** exp(nats). */
  perplexity: number;
  /** Next-token predictions scored: window per window. */
  tokens: number;
  /** Windows scored. */
  windows: number;
  /** Next-token predictions per window (the window option). */
  window: number;
  /**
   * The MTP head (token t + 2), when asked for. It makes window - 1 predictions per window, but `nats`
   * divides their sum by `tokens`, the next-token count, as DeepSeek-style training reports the MTP loss;
   * `natsPerPrediction` is the plain mean.
   */
  mtp?: { nats: number; perplexity: number; predictions: number; natsPerPrediction: number };
}

export const DEFAULT_WINDOW = 256;

export async function perplexity(model: WindowModel, stream: readonly number[], options: PerplexityOptions = {}): Promise<PerplexityResult> {
  const window = options.window ?? DEFAULT_WINDOW;
  const mtp = options.mtp ?? false;
  const starts = windowStarts(stream.length, window, options.maxWindows);
  if (window + 1 > model.maxLength) {
    throw new InputError('window', `${window} predictions need ${window + 1} positions; the model's context holds ${model.maxLength}`);
  }
  if (mtp && !model.hasMtp) throw new InputError('mtp', 'the model has no MTP module (num_nextn_predict_layers is 0, or it was loaded with mtp: false)');
  if (starts.length === 0) throw new InputError('tokens', `${stream.length} tokens do not make one window of ${window + 1}`);

  const V = model.vocabSize;
  let nextSum = 0;
  let mtpSum = 0;
  const result = (windows: number): PerplexityResult => {
    const tokens = windows * window;
    const r: PerplexityResult = { nats: nextSum / tokens, perplexity: Math.exp(nextSum / tokens), tokens, windows, window };
    if (mtp) {
      const predictions = windows * (window - 1);
      r.mtp = { nats: mtpSum / tokens, perplexity: Math.exp(mtpSum / tokens), predictions, natsPerPrediction: predictions ? mtpSum / predictions : NaN };
    }
    return r;
  };
  for (let w = 0; w < starts.length; w++) {
    options.signal?.throwIfAborted();
    const ids = stream.slice(starts[w], starts[w] + window + 1);
    const out = await model.runWindow(ids, mtp);
    nextSum += crossEntropySum(out.logits, V, ids.slice(1));
    if (mtp) {
      if (!out.mtpLogits) throw new Error('runWindow was asked for the MTP logits and returned none');
      mtpSum += crossEntropySum(out.mtpLogits, V, ids.slice(2));
    }
    options.onProgress?.(w + 1, starts.length, result(w + 1));
  }
  return result(starts.length);
}
