// How many routed experts a two-row verification step reads: verifying [t, d] routes both tokens, so each
// MoE layer reads the union of their top-k experts — the batch-1 limit on what speculation can save when
// decoding is bound by reading weights. Counted with the CPU reference's routing of greedy MTP runs.
import { openModelFolder } from '../../src/checkpoint/model-folder.ts';
import { nodeFolder } from '../../src/checkpoint/sources/node-file.ts';
import { generate } from '../../src/decode/generate.ts';
import type { Engine } from '../../src/engine.ts';
import type { Route } from '../../src/reference/moe-route.ts';
import { ReferenceModel } from '../../src/reference/model.ts';

export async function routedExpertsPerVerify(dir: string, engine: Engine, prompts: string[], log: (line: string) => void) {
  const folder = await openModelFolder(nodeFolder(dir));
  const ref = await ReferenceModel.load(folder.checkpoint, folder.config, { mtp: false });
  const topK = folder.config.numExpertsPerTok;
  let unionSum = 0;
  let pairs = 0;
  for (const text of prompts) {
    const prompt = engine.encode(text);
    engine.model.truncate(0);
    const gen = generate(engine.model, prompt, { maxNewTokens: 40, eosTokenIds: [], speculative: 'none' });
    for await (const _ of gen);
    const seq = [...prompt, ...(await gen.result).tokens];
    const routes = new Map<number, Route[]>();
    ref.forward(ref.newState(), seq, (layer, r) => routes.set(layer, r));
    for (const layerRoutes of routes.values()) {
      for (let p = prompt.length; p + 1 < seq.length; p++) {
        unionSum += new Set([...layerRoutes[p].experts, ...layerRoutes[p + 1].experts]).size;
        pairs++;
      }
    }
  }
  await folder.checkpoint.close();
  const mean = unionSum / pairs;
  log(`  routed experts read per MoE layer by a 2-row verify: ${mean.toFixed(2)} of ${2 * topK} possible (top-${topK} per token; ${(mean / topK).toFixed(2)}x one token's)`);
  return { top_k: topK, mean_union_per_layer: Number(mean.toFixed(3)), ratio_to_one_token: Number((mean / topK).toFixed(3)) };
}
