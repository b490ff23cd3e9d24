// A CausalLM as perplexity's WindowModel: each window from an empty cache, the logits of every row read
// back, and for the MTP head the final-norm hidden states fed back through appendMtpLogits. Written
// against the interface so any backend that offers those operations is scored by the same code.
import type { CausalLM } from '../decode/causal-lm.ts';
import { InputError } from '../errors.ts';
import type { WindowModel } from './perplexity.ts';

/** The caller must hold the model for the whole run (Engine does): each window truncates its caches. */
export function lmWindowModel(lm: CausalLM): WindowModel {
  const H = lm.config.hiddenSize;
  const { appendOutputs, appendMtpLogits } = lm;
  const scoresMtp = appendOutputs !== undefined && appendMtpLogits !== undefined && (lm.speculator?.() ?? null) !== null;
  return {
    vocabSize: lm.config.vocabSize,
    maxLength: lm.maxLength,
    hasMtp: scoresMtp,
    async runWindow(tokens, mtp) {
      lm.truncate(0);
      if (!mtp) return { logits: await lm.appendLogits(tokens) };
      if (!scoresMtp) throw new InputError('mtp', 'this model cannot score its MTP head');
      const { logits, hidden } = await appendOutputs!.call(lm, tokens);
      // Rows 0..T-3 only: the last two rows' MTP targets lie past the window.
      const rows = Math.max(0, tokens.length - 2);
      const mtpLogits = rows ? await appendMtpLogits!.call(lm, hidden.subarray(0, rows * H), tokens.slice(1, rows + 1)) : new Float32Array(0);
      return { logits, mtpLogits };
    },
  };
}
