// `npm run bench -- q4`: what 4-bit weights cost and save on the embedded model (docs/q4.md), stored FP8 vs
// `--quantize q4`: weights on the GPU, weight bytes one decoded token reads (the memory plan's buffers, routed
// experts at top-k of n_routed), and decode tokens/s (greedy, plain, 64 tokens after a 36-token prompt; best of
// five rounds that alternate the two). The same bytes-per-token arithmetic for the real releases is tools/plan-real-models.ts; the quality
// figure (held-out nats/token) is `deepseek-webgpu perplexity --file eval/kjv-wordnet-heldout.txt [--quantize q4]`.
import { loadModel } from '../../src/engine-node.ts';
import { generate } from '../../src/decode/generate.ts';
import { openModelFolder } from '../../src/checkpoint/model-folder.ts';
import { nodeFolder } from '../../src/checkpoint/sources/node-file.ts';
import { planWeights, type QuantizeFormat } from '../../src/model/weight-plan.ts';
import { activeWeightBytes } from '../plan-real-models.ts';

const DIR = 'weights/tiny-v3-trained';
const NO_LIMIT = 2 ** 52;
const ROUNDS = 5;

export interface Q4Row {
  weights_as: string;
  weights_on_gpu_mb: number;
  weight_mb_per_token: number;
  decodeTokensPerSecond: number;
}

export async function runQ4Bench(log: (line: string) => void): Promise<Q4Row[]> {
  const { config, checkpoint } = await openModelFolder(nodeFolder(DIR));
  const forms = [undefined, 'q4'] as (QuantizeFormat | undefined)[];
  const engines = await Promise.all(forms.map((quantize) => loadModel(DIR, { quantize, mtp: false })));
  const prompt = [0, ...engines[0].tokenizer!.encode('And it came to pass in those days, that there went out a decree', { addBos: false })].slice(0, 36);
  // Rounds alternate the two forms, so a change in the machine's load hits both alike; best of the rounds.
  const best = forms.map(() => 0);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, engine] of engines.entries()) {
      engine.model.truncate(0);
      const gen = generate(engine.model, prompt, { maxNewTokens: 64, eosTokenIds: [], speculative: 'none' });
      for await (const _ of gen);
      best[i] = Math.max(best[i], (await gen.result).stats.decodeTokensPerSecond);
    }
  }
  const rows = forms.map((quantize, i) => ({
    weights_as: quantize ? `--quantize ${quantize}` : 'stored (FP8)',
    weights_on_gpu_mb: planWeights(config, checkpoint, { quantize }, NO_LIMIT).bytes / 1e6,
    weight_mb_per_token: activeWeightBytes(config, planWeights(config, checkpoint, { quantize, mtp: false }, NO_LIMIT)) / 1e6,
    decodeTokensPerSecond: best[i],
  }));
  for (const r of rows) log(`${r.weights_as}: ${r.weights_on_gpu_mb.toFixed(2)} MB on the GPU, ${r.weight_mb_per_token.toFixed(2)} MB read per token, decode ${r.decodeTokensPerSecond.toFixed(1)} tok/s`);
  await Promise.all(engines.map((e) => e.dispose()));
  await checkpoint.close();
  return rows;
}
