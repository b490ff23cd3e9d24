// The held-out text of the embedded model (eval/README.md), its figures, and the CPU reference as a
// perplexity WindowModel: the oracle the GPU engine's perplexity is compared with.
import type { WindowModel } from '../../src/eval/perplexity.ts';
import type { ReferenceModel } from '../../src/reference/model.ts';

export const HELDOUT_FILE = 'eval/kjv-wordnet-heldout.txt';

/** The training code's figures over the whole file (eval/README.md): 180 windows of 257 tokens. */
export const HELDOUT_FIGURES = { nats: 3.5758, mtpNats: 3.52563, tokens: 46_080 };

/**
 * The first two windows (default window of 256: 512 tokens) as the CPU reference scores them, float64
 * throughout (kernels-test/perplexity.test.ts recomputes them with FULL_EVAL=1; 40 s on 2 busy cores).
 */
export const FIRST_TWO_WINDOWS = { nats: 2.9126199927957117, mtpNats: 2.908587069580203 };

/** Each window through a fresh reference state: the same windowing and scoring code as the GPU's. */
export function referenceWindowModel(ref: ReferenceModel): WindowModel {
  const H = ref.config.hiddenSize;
  return {
    vocabSize: ref.config.vocabSize,
    maxLength: ref.config.maxPositionEmbeddings,
    hasMtp: ref.weights.mtp.length > 0,
    async runWindow(tokens, mtp) {
      const state = ref.newState();
      const { logits, hidden } = ref.forward(state, tokens);
      if (!mtp) return { logits };
      const rows = Math.max(0, tokens.length - 2);
      return { logits, mtpLogits: ref.mtp(state, hidden.subarray(0, rows * H), tokens.slice(1, rows + 1)) };
    },
  };
}
