// Benchmarks only: make a speculative step verify chosen drafts instead of the MTP's own, so `npm run bench
// -- e2e` can measure decode speed at chosen acceptance rates. The MTP still drafts (a step costs the same);
// its drafts are overwritten on the GPU just before the verify pass reads them. This goes through the
// recorder's trace hook so the production speculator carries no benchmark state.
import { createStorage } from '../../src/gpu/buffers.ts';
import type { DeepseekModel } from '../../src/model/deepseek-model.ts';

/** The scratch buffer the verify pass reads its rows [t, d1..dK] from (src/model/activations.ts). */
const TOKENS_LABEL = 'tokens';

export interface DraftForcer {
  /** The next speculative step verifies `drafts` (one per draft of that step). */
  force(drafts: readonly number[]): void;
  /** Removes the hook and frees the buffer. */
  dispose(): void;
}

export function forceDrafts(model: DeepseekModel): DraftForcer {
  const forced = createStorage(model.gpu.device, 256 * 4, 'forced drafts');
  let pending: readonly number[] | null = null;
  model.traceDispatches((e, rec) => {
    // Within a step the MTP embeds from its own token buffer; the first embed reading the main one is the
    // verify pass, recorded after every draft landed in tokens[1..K].
    const tokens = e.buffers[0]?.buffer;
    if (!pending || e.label !== 'embed' || tokens?.label !== TOKENS_LABEL) return;
    rec.write(forced, 0, Uint32Array.from(pending));
    rec.copy(forced, 0, tokens, 4, pending.length * 4);
    pending = null;
  });
  return {
    force(drafts) {
      pending = drafts;
    },
    dispose() {
      model.traceDispatches(null);
      forced.destroy();
    },
  };
}
