// `npm run bench -- e2e --offload 50%,25%,6GB`: decode speed with routed experts offloaded to host memory
// (ModelLoadOptions.gpuMemory) against the resident run, per model. A share is the part of each MoE layer's
// routed experts the GPU budget leaves room for (the budget is the resident part plus those slots); a size is
// the --gpu-memory budget itself. Each row
// says whether greedy decoding gave the resident run's tokens, the expert cache's hit rate, the bytes uploaded
// and the stall per decoded token.
import { generate, type GenerateResult } from '../../src/decode/generate.ts';
import type { Engine } from '../../src/engine.ts';
import { loadModel } from '../../src/engine-node.ts';
import { parseByteSize } from '../../src/byte-size.ts';
import { formatBytes } from '../../src/model/memory-plan.ts';

export interface OffloadRow {
  model: string;
  /** 'resident', or the share of experts asked for. */
  budget: string;
  gpu_bytes: number;
  slots_per_layer: number | null;
  prefill_tokens_per_s: number;
  decode_tokens_per_s: number;
  same_tokens: boolean;
  hit_rate: number | null;
  upload_mb_per_token: number | null;
  stall_ms_per_token: number | null;
  upload_ms_per_token: number | null;
}

/** A budget: a share of each MoE layer's experts ("50%"), or a --gpu-memory size ("6GB"). */
export type OffloadBudget = { share: number } | { bytes: number; text: string };

/** "50%,6GB" -> [{ share: 0.5 }, { bytes: 6e9, text: '6GB' }]; refuses anything else. */
export function parseBudgets(list: string): OffloadBudget[] {
  return list
    .split(',')
    .filter((s) => s.trim() !== '')
    .map((s) => {
      const m = /^\s*(\d+(?:\.\d+)?)%\s*$/.exec(s);
      if (!m) return { bytes: parseByteSize(s, '--offload'), text: s.trim() };
      if (Number(m[1]) <= 0 || Number(m[1]) >= 100) throw new Error(`--offload: a share must be between 0% and 100%, got '${s}'`);
      return { share: Number(m[1]) / 100 };
    });
}

async function greedy(engine: Engine, prompt: number[], tokens: number): Promise<GenerateResult> {
  engine.model.truncate(0);
  const gen = generate(engine.model, prompt, { maxNewTokens: tokens, eosTokenIds: [], speculative: 'none' });
  for await (const _ of gen);
  return gen.result;
}

/** The resident run of `dir`, then one offloaded run per share, each loaded on its own (never two at once). */
export async function offloadRows(dir: string, budgets: OffloadBudget[], prompt: number[], tokens: number, log: (line: string) => void): Promise<OffloadRow[]> {
  const model = dir.split('/').pop()!;
  const rows: OffloadRow[] = [];
  const run = async (budget: string, gpuMemory: number | undefined, want: number[] | null) => {
    const engine = await loadModel(dir, { gpuMemory });
    try {
      await greedy(engine, prompt.slice(0, 4), 2); // warm pipelines and the cache
      const r = await greedy(engine, prompt, tokens);
      const e = r.stats.expertCache;
      const plan = engine.model.plan;
      const row: OffloadRow = {
        model,
        budget,
        gpu_bytes: plan.total,
        slots_per_layer: plan.offload?.slots ?? null,
        prefill_tokens_per_s: round(r.stats.prefillTokensPerSecond),
        decode_tokens_per_s: round(r.stats.decodeTokensPerSecond),
        same_tokens: want === null || r.tokens.join() === want.join(),
        hit_rate: e ? round(e.hitRate) : null,
        upload_mb_per_token: e ? round(e.bytesUploadedPerToken / 1e6) : null,
        stall_ms_per_token: e ? round(e.stallMsPerToken) : null,
        upload_ms_per_token: e ? round(e.uploadMsPerToken) : null,
      };
      rows.push(row);
      const experts = e ? `  ${row.slots_per_layer} slots/layer  hits ${(100 * e.hitRate).toFixed(1)}%  ${row.upload_mb_per_token} MB, ${row.stall_ms_per_token} ms stalled (${row.upload_ms_per_token} uploading) per token` : '';
      log(`${model.padEnd(24)} ${budget.padEnd(9)} ${formatBytes(row.gpu_bytes).padStart(10)}  prefill ${row.prefill_tokens_per_s} tok/s  decode ${row.decode_tokens_per_s} tok/s${experts}  ${row.same_tokens ? 'same tokens' : 'TOKENS DIFFER'}`);
      return { r, engine };
    } finally {
      await engine.dispose();
    }
  };
  const { r, engine } = await run('resident', undefined, null);
  const whole = engine.model.plan;
  const c = engine.config;
  const layers = Array.from({ length: c.numHiddenLayers }, (_, l) => l).filter((l) => c.isMoeLayer(l)).length;
  // One expert's bytes in every MoE layer, from the resident plan's expert stacks (gate, up, down + scales).
  const expertStacks = [...whole.weightPlan.tensors.values()].filter((w) => w.kind === 'experts' && w.names!.length === c.nRoutedExperts);
  const perExpert = expertStacks.reduce((n, w) => n + w.parts.reduce((m, p) => m + p.weight.bytes + (p.scale?.bytes ?? 0), 0), 0) / c.nRoutedExperts;
  const mtpLayers = expertStacks.length / 3 - layers; // the MTP layer's experts stay resident
  const offloadable = (perExpert * layers) / (layers + mtpLayers);
  for (const b of budgets) {
    if ('bytes' in b) {
      await run(b.text, b.bytes, r.tokens);
      continue;
    }
    const slots = Math.max(c.numExpertsPerTok, Math.floor(b.share * c.nRoutedExperts));
    // Half a slot of slack for the offload's own scratch: the plan takes the most slots that fit.
    await run(`${(100 * b.share).toFixed(1).replace(/\.0$/, '')}%`, Math.floor(whole.total - (c.nRoutedExperts - slots - 0.5) * offloadable), r.tokens);
  }
  return rows;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
