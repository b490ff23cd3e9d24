// The whole model on the CPU, written for clarity: the oracle the GPU engine is tested against.
// forward() runs T new tokens after whatever the state's caches hold (prefill or one decode step alike).
import type { ModelConfig } from '../config/model-config.ts';
import type { Checkpoint } from '../checkpoint/checkpoint.ts';
import { InputError } from '../errors.ts';
import { decoderLayer } from './decoder-layer.ts';
import { embed } from './embed.ts';
import { LayerLatentCache } from './latent-cache.ts';
import { linear } from './matmul.ts';
import type { Route } from './moe-route.ts';
import { mtpForward } from './mtp.ts';
import { rmsnorm } from './rmsnorm.ts';
import { loadReferenceWeights, type ReferenceWeights } from './weights.ts';

export interface ReferenceState {
  layers: LayerLatentCache[];
  /** The MTP module's own latent cache, one per MTP layer. */
  mtp: LayerLatentCache[];
}

export interface ForwardResult {
  /** [T, vocab]: row t scores the token after tokens[t]. */
  logits: Float32Array;
  /** [T, hidden]: hidden state after the final model.norm (lm_head's input and the MTP's h). */
  hidden: Float64Array;
}

export class ReferenceModel {
  constructor(
    readonly config: ModelConfig,
    readonly weights: ReferenceWeights,
  ) {}

  /** `quantize: 'q4'`: the weights `--quantize q4` computes with (src/reference/weights.ts). */
  static async load(ckpt: Checkpoint, config: ModelConfig, options: { mtp?: boolean; quantize?: 'q4' } = {}): Promise<ReferenceModel> {
    return new ReferenceModel(config, await loadReferenceWeights(ckpt, config, options.mtp ?? true, { quantize: options.quantize }));
  }

  newState(): ReferenceState {
    return {
      layers: this.weights.layers.map(() => new LayerLatentCache()),
      mtp: this.weights.mtp.map(() => new LayerLatentCache()),
    };
  }

  /** `observe(layer, routes)` sees every MoE layer's routing decisions. */
  forward(state: ReferenceState, tokens: readonly number[], observe?: (layer: number, routes: Route[]) => void): ForwardResult {
    const c = this.config;
    const T = tokens.length;
    const start = state.layers[0]?.length ?? 0;
    if (start + T > c.maxPositionEmbeddings) {
      throw new InputError('tokens', `${start + T} positions exceed the context of ${c.maxPositionEmbeddings} (max_position_embeddings)`);
    }
    const h = embed(this.weights.embed, tokens); // [T, hidden]
    this.weights.layers.forEach((w, l) => decoderLayer(h, T, w, c, state.layers[l], observe && ((routes) => observe(l, routes))));
    const hidden = rmsnorm(h, T, c.hiddenSize, this.weights.finalNorm, c.rmsNormEps);
    const logits = Float32Array.from(linear(hidden, T, c.hiddenSize, this.weights.lmHead.data, c.vocabSize));
    return { logits, hidden };
  }

  /**
   * MTP rows: row i takes the main model's post-norm hidden[i] and the next token nextTokens[i] and
   * predicts the token after that. Rows continue the MTP cache's positions.
   */
  mtp(state: ReferenceState, hidden: Float64Array, nextTokens: readonly number[]): Float32Array {
    if (this.weights.mtp.length === 0) throw new InputError('mtp', 'this checkpoint has no MTP module (num_nextn_predict_layers is 0)');
    return mtpForward(this.weights.mtp[0], this.config, state.mtp[0], hidden, nextTokens);
  }
}
