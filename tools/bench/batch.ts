// `npm run bench -- batch [--json] [--synthetic <layers>]`: batched decoding (src/decode/batch.ts) on this
// machine. For B = 1, 2, 4, 8, 16 greedy sequences of different prompt lengths decoding together: the median
// latency of one batched step, total and per-sequence tokens/s, and (plain steps) the routed experts one step
// reads per MoE layer (the union of the B rows' top-k, read back from the GPU through the recorder's trace
// hook) against B x top-k. On the embedded model (plain and with MTP speculation inside the batch) and a
// synthetic DeepSeek-V2-Lite with 2 layers.
import { openModelFolder } from '../../src/checkpoint/model-folder.ts';
import { nodeFolder } from '../../src/checkpoint/sources/node-file.ts';
import { DecodeBatch } from '../../src/decode/batch.ts';
import { createStorage, readStorage } from '../../src/gpu/buffers.ts';
import type { Gpu } from '../../src/gpu/device.ts';
import { DeepseekModel } from '../../src/model/deepseek-model.ts';
import { syntheticModelDir } from '../make-synthetic-model.ts';

const BATCH_SIZES = [1, 2, 4, 8, 16];

export interface BatchRow {
  model: string;
  mode: 'plain' | 'mtp';
  batch: number;
  step_ms: number;
  total_tokens_per_s: number;
  per_sequence_tokens_per_s: number;
  /** Distinct routed experts one plain step reads per MoE layer (mean over layers and steps); null with MTP. */
  experts_per_layer: number | null;
  /** B x top-k, capped at the routed experts: what reading every row's experts separately would take. */
  expert_reads_unbatched: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x: number) => Math.round(x * 100) / 100;

/** Copies each MoE layer's routed expert ids [B, topK] right after moe-route writes them, layer after layer. */
function captureExperts(model: DeepseekModel, rows: number) {
  const c = model.config;
  const layers = c.numHiddenLayers; // more than the MoE layers: room for every moe-route of a step
  const rowBytes = rows * c.numExpertsPerTok * 4;
  const buffer = createStorage(model.gpu.device, layers * rowBytes, 'captured experts');
  let routed: GPUBuffer | null = null;
  let layer = 0;
  model.traceDispatches((e, rec) => {
    if (routed) {
      rec.copy(routed, 0, buffer, layer++ * rowBytes, rowBytes);
      routed = null;
    }
    if (e.label === 'moe-route') routed = e.buffers[2].buffer; // bindings: logits, bias, experts, weights
  });
  return {
    /** Distinct experts per MoE layer of the step just run, then ready for the next step. */
    async take(): Promise<number[]> {
      const ids = new Uint32Array(await readStorage(model.gpu.device, buffer, 0, layer * rowBytes));
      const per = rowBytes / 4;
      const distinct = Array.from({ length: layer }, (_, l) => new Set(ids.subarray(l * per, (l + 1) * per)).size);
      layer = 0;
      return distinct;
    },
    dispose() {
      model.traceDispatches(null);
      buffer.destroy();
    },
  };
}

async function benchModel(gpu: Gpu, dir: string, log: (line: string) => void): Promise<BatchRow[]> {
  const folder = await openModelFolder(nodeFolder(dir));
  const c = folder.config;
  const big = c.hiddenSize >= 1024; // real widths decode at a second or more per step here: fewer steps
  const steps = big ? 4 : 12;
  const maxB = Math.max(...BATCH_SIZES);
  const promptLength = (i: number) => 5 + ((i * 7) % 23);
  const context = 96;
  const model = await DeepseekModel.load(gpu, folder, { contextLength: context, cacheTokens: maxB * context, maxSequences: maxB });
  const modes = model.batchSpeculator() ? (['plain', 'mtp'] as const) : (['plain'] as const);
  const rows: BatchRow[] = [];
  try {
    for (const mode of modes) {
      for (const B of BATCH_SIZES) {
        const batch = new DecodeBatch(model, { speculative: mode === 'mtp' ? 'mtp' : 'none' });
        const streams = Array.from({ length: B }, (_, i) => {
          const prompt = Array.from({ length: promptLength(i) }, (_, t) => 3 + ((t * 37 + i * 101) % (c.vocabSize - 3)));
          return batch.add({ prompt, maxNewTokens: 2 * steps + 26, eosTokenIds: [] });
        });
        const produced = () => streams.reduce((n, s) => n + s.tokens.length, 0);
        await batch.step(); // every sequence joins: prefill and first token
        // Warm-up steps build the pipelines: one batched step of B rows; with MTP, the MTP pass takes B..2B rows
        // and the verify B+1..2B as drafts are accepted or not, and a matmul of up to 8 rows compiles per count.
        for (let s = 0; s < (mode === 'mtp' ? 6 : 1); s++) await batch.step();
        const ms: number[] = [];
        const before = produced();
        const t0 = performance.now();
        for (let s = 0; s < steps; s++) {
          const t = performance.now();
          await batch.step();
          ms.push(performance.now() - t);
        }
        const seconds = (performance.now() - t0) / 1000;
        const tokens = produced() - before;
        let experts: number | null = null;
        if (mode === 'plain') {
          const capture = captureExperts(model, B);
          const distinct: number[] = [];
          for (let s = 0; s < 2; s++) {
            await batch.step();
            distinct.push(...(await capture.take()));
          }
          capture.dispose();
          experts = distinct.length ? round(distinct.reduce((a, b) => a + b, 0) / distinct.length) : 0;
        }
        for (const s of streams) s.cancel();
        await batch.step(); // the pages go back
        const row: BatchRow = {
          model: dir.split('/').pop()!,
          mode,
          batch: B,
          step_ms: round(median(ms)),
          total_tokens_per_s: round(tokens / seconds),
          per_sequence_tokens_per_s: round(tokens / seconds / B),
          experts_per_layer: experts,
          expert_reads_unbatched: Math.min(B * c.numExpertsPerTok, c.nRoutedExperts),
        };
        rows.push(row);
        log(
          `  ${row.model.padEnd(24)} ${mode.padEnd(5)} B=${String(B).padStart(2)}  step ${row.step_ms.toFixed(1).padStart(7)} ms  ` +
            `${row.total_tokens_per_s.toFixed(1).padStart(7)} tok/s total  ${row.per_sequence_tokens_per_s.toFixed(1).padStart(6)} per sequence` +
            (experts === null ? '' : `  experts/layer ${experts.toFixed(1)} of ${row.expert_reads_unbatched} (B x top-${c.numExpertsPerTok})`),
        );
      }
    }
  } finally {
    model.dispose();
    await folder.checkpoint.close();
  }
  return rows;
}

export async function runBatchBench(gpu: Gpu, log: (line: string) => void, syntheticLayers = 2): Promise<BatchRow[]> {
  const dirs = ['weights/tiny-v3-trained'];
  if (syntheticLayers > 0) dirs.push(syntheticModelDir(syntheticLayers, log));
  const rows: BatchRow[] = [];
  for (const dir of dirs) rows.push(...(await benchModel(gpu, dir, log)));
  return rows;
}
