// Expert offload (ModelLoadOptions.gpuMemory): a model whose budget holds 5 of 16 routed experts per MoE layer
// computes what the resident model computes, bit for bit: the logits of a prompt longer than a prefill chunk
// (grouped path, more distinct experts per chunk than slots: batches), greedy decoding plain and with MTP.
// A budget below the resident part is refused up front with both numbers.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openModelFolder, type ModelFolder } from '../src/checkpoint/model-folder.ts';
import { nodeFolder } from '../src/checkpoint/sources/node-file.ts';
import { generate } from '../src/decode/generate.ts';
import { InputError } from '../src/errors.ts';
import { DeepseekModel, defaultAttentionWorkgroups, type ModelLoadOptions } from '../src/model/deepseek-model.ts';
import { bufferLimit, planMemory } from '../src/model/memory-plan.ts';
import { getTestGpu } from './helpers/gpu.ts';

const gpu = await getTestGpu();

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

// tiny-v3: 3 layers (layers 1 and 2 MoE, 16 experts, top-4) + an MTP layer. Chunks of 8 rows make 32 pairs:
// the grouped path (>= 2 pairs per expert), with up to 16 distinct experts for 5 slots.
const OPTIONS: ModelLoadOptions = { prefillChunk: 8, contextLength: 64, warmup: false };
const SLOTS = 5;
const PROMPT = [5, 17, 300, 2047, 0, 9, 1000, 33, 734, 12, 1500, 64, 2, 901, 77, 1234, 8, 450, 1999, 31];

describe.skipIf(!gpu)('expert offload under gpuMemory', () => {
  let folder: ModelFolder;
  let resident: DeepseekModel;
  let offloaded: DeepseekModel;
  let budget: number;
  beforeAll(async () => {
    folder = await openModelFolder(nodeFolder('kernels-test/fixtures/tiny-v3'));
    const plan = (gpuMemory?: number) =>
      planMemory(folder.config, folder.checkpoint, { contextLength: 64, prefillChunk: 8, attentionWorkgroups: defaultAttentionWorkgroups(gpu!), gpuMemory }, bufferLimit(gpu!.limits));
    const most = plan(plan().total - 1).offload!; // 15 slots
    budget = Math.floor(most.resident + (SLOTS + 0.5) * most.expertBytes * most.layers.length);
    resident = await DeepseekModel.load(gpu!, folder, OPTIONS);
    offloaded = await DeepseekModel.load(gpu!, folder, { ...OPTIONS, gpuMemory: budget });
  });
  afterAll(async () => {
    resident?.dispose();
    offloaded?.dispose();
    await folder?.checkpoint.close();
  });

  it('plans 5 slots per MoE layer within the budget, the rest of the experts in host memory', () => {
    const o = offloaded.plan.offload!;
    expect(o).toMatchObject({ layers: [1, 2], slots: SLOTS, experts: 16 });
    expect(offloaded.plan.total).toBeLessThanOrEqual(budget);
    expect(o.resident + o.cache).toBe(offloaded.plan.total);
    expect(o.cache).toBe(2 * SLOTS * o.expertBytes);
    expect(resident.plan.offload).toBeNull();
    expect(offloaded.plan.total).toBeLessThan(resident.plan.total - 2 * 10 * o.expertBytes + 1);
  });

  it('the logits and hidden states of a prompt longer than a chunk are the resident ones, bit for bit', async () => {
    for (const m of [resident, offloaded]) m.truncate(0);
    const before = offloaded.expertCache!;
    const a = await resident.appendOutputs(PROMPT);
    const b = await offloaded.appendOutputs(PROMPT);
    expect(sameBits(b.logits, a.logits), 'logits').toBe(true);
    expect(sameBits(b.hidden, a.hidden), 'hidden').toBe(true);
    const after = offloaded.expertCache!;
    expect(after.lookups - before.lookups).toBeGreaterThan(after.hits - before.hits);
    expect(after.bytesUploaded).toBeGreaterThan(before.bytesUploaded);
  });

  it('greedy decoding, plain and speculative (MTP), gives the resident tokens', async () => {
    for (const speculative of ['none', 'mtp'] as const) {
      const run = async (m: DeepseekModel) => {
        m.truncate(0);
        m.speculator()?.reset();
        const gen = generate(m, PROMPT.slice(0, 11), { maxNewTokens: 10, eosTokenIds: [], speculative, draftTokens: 2 });
        for await (const _ of gen);
        return (await gen.result);
      };
      const want = await run(resident);
      expect(want.tokens).toHaveLength(10);
      expect(want.stats.expert_cache).toBeUndefined();
      const got = await run(offloaded);
      expect(got.tokens, speculative).toEqual(want.tokens);
      // 5 of 16 experts per layer: some decode lookups miss, and each miss uploads one expert (98,328 bytes).
      const e = got.stats.expert_cache!;
      expect(e.hit_rate).toBeGreaterThanOrEqual(0);
      expect(e.hit_rate).toBeLessThan(1);
      expect(e.bytes_uploaded_per_token).toBeGreaterThan(0);
      expect(e.stall_ms_per_token).toBeGreaterThanOrEqual(e.upload_ms_per_token);
      expect(e.prefill_bytes_uploaded % 98_328).toBe(0);
    }
  });

  it('a budget below the resident part and one token of experts per layer is refused before anything is read', async () => {
    const floor = offloaded.plan.offload!.resident + 2 * 4 * offloaded.plan.offload!.expertBytes;
    const read = vi.spyOn(folder.checkpoint, 'read');
    try {
      const error = await DeepseekModel.load(gpu!, folder, { ...OPTIONS, gpuMemory: floor - 4096 }).then(
        (m) => (m.dispose(), null),
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(InputError);
      const text = String(error);
      expect(text).toContain(`(${floor - 4096} bytes) is below what must stay on the GPU`);
      expect(text).toMatch(/the resident part, [\d.]+ MiB \(embeddings, attention/);
      expect(text).toContain('plus 4 expert slots');
      expect(read).not.toHaveBeenCalled();
    } finally {
      read.mockRestore();
    }
  });
});
