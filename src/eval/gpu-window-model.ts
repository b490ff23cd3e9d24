// The GPU model as perplexity's WindowModel: each window from an empty cache, the logits of every row read
// back, and for the MTP head the final-norm hidden states fed back through appendMtpLogits.
import type { DeepseekModel } from '../model/deepseek-model.ts';
import type { WindowModel } from './perplexity.ts';

/** The caller must hold the model for the whole run (Engine does): each window truncates its caches. */
export function gpuWindowModel(model: DeepseekModel): WindowModel {
  const H = model.config.hiddenSize;
  return {
    vocabSize: model.config.vocabSize,
    maxLength: model.maxLength,
    hasMtp: model.mtpCache !== null,
    async runWindow(tokens, mtp) {
      model.truncate(0);
      const { logits, hidden } = await model.appendOutputs(tokens);
      if (!mtp) return { logits };
      // Rows 0..T-3 only: the last two rows' MTP targets lie past the window.
      const rows = Math.max(0, tokens.length - 2);
      const mtpLogits = rows ? await model.appendMtpLogits(hidden.subarray(0, rows * H), tokens.slice(1, rows + 1)) : new Float32Array(0);
      return { logits, mtpLogits };
    },
  };
}
