// Expert offload (ModelLoadOptions.gpuMemory): a model whose budget holds 5 of 16 routed experts per MoE layer
// computes what the resident model computes, bit for bit: the logits of a prompt longer than a prefill chunk
// (grouped path, more distinct experts per chunk than slots: batches), greedy decoding plain and with MTP.
// A budget below the resident part is refused up front with both numbers.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openModelFolder, type ModelFolder } from '../src/checkpoint/model-folder.ts';
import { nodeFolder } from '../src/checkpoint/sources/node-file.ts';
import { generate } from '../src/decode/generate.ts';
import { InputError } from '../src/errors.ts';
import { DeepseekModel, defaultAttentionWorkgroups, type ModelLoadOptions } from '../src/model/deepseek-model.ts';
import { bufferLimit, planMemory } from '../src/model/memory-plan.ts';
import { getTestGpu } from './helpers/gpu.ts';
import { writeRandomCheckpoint } from './helpers/random-checkpoint.ts';

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
      expect(want.stats.expertCache).toBeUndefined();
      const got = await run(offloaded);
      expect(got.tokens, speculative).toEqual(want.tokens);
      // 5 of 16 experts per layer: some decode lookups miss, and each miss uploads one expert (98,328 bytes).
      const e = got.stats.expertCache!;
      expect(e.hitRate).toBeGreaterThanOrEqual(0);
      expect(e.hitRate).toBeLessThan(1);
      expect(e.bytesUploadedPerToken).toBeGreaterThan(0);
      expect(e.stallMsPerToken).toBeGreaterThanOrEqual(e.uploadMsPerToken);
      expect(e.prefillBytesUploaded % 98_328).toBe(0);
    }
  });

  it('an expert whose read fails fails the step, and the next step uploads it again (no slot keeps the half-written expert)', async () => {
    const read = folder.checkpoint.read.bind(folder.checkpoint);
    const spy = vi.spyOn(folder.checkpoint, 'read').mockImplementation(async (name, begin, end) => {
      if (/experts\.\d+\.up_proj\.weight$/.test(name)) throw new Error(`disk error reading ${name}`);
      return read(name, begin, end);
    });
    try {
      offloaded.truncate(0);
      await expect(offloaded.appendOutputs(PROMPT.slice(0, 12))).rejects.toThrow(/disk error reading model\.layers\.\d\.mlp\.experts\.\d+\.up_proj\.weight/);
    } finally {
      spy.mockRestore();
    }
    for (const m of [resident, offloaded]) m.truncate(0);
    const a = await resident.appendOutputs(PROMPT.slice(0, 12));
    const b = await offloaded.appendOutputs(PROMPT.slice(0, 12));
    expect(sameBits(b.logits, a.logits), 'logits after the failed step').toBe(true);
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

// Awkward shapes, BF16 experts (V2-style softmax greedy routing), 21 experts of which 4 fit, and a buffer limit
// that splits each slot pool into parts of one slot: two chunks of 14 rows (42 pairs: the grouped path, in
// batches of 4 experts) and one of 2 rows (the per-pair path, in batches) give the resident logits.
const AWKWARD: Record<string, unknown> = {
  architectures: ['DeepseekV2ForCausalLM'],
  vocab_size: 251,
  hidden_size: 44,
  intermediate_size: 40,
  moe_intermediate_size: 100,
  num_hidden_layers: 3,
  num_attention_heads: 3,
  q_lora_rank: null,
  kv_lora_rank: 12,
  qk_nope_head_dim: 8,
  qk_rope_head_dim: 8,
  v_head_dim: 8,
  n_routed_experts: 21,
  n_shared_experts: 1,
  num_experts_per_tok: 3,
  topk_method: 'greedy',
  first_k_dense_replace: 1,
  max_position_embeddings: 128,
  eos_token_id: 1,
};

describe.skipIf(!gpu)('expert offload on awkward shapes, BF16 experts, slot pools split by a buffer limit', () => {
  let dir: string;
  let folder: ModelFolder;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'expert-offload-'));
    await writeRandomCheckpoint(dir, AWKWARD, { format: 'bf16' }, 11);
    folder = await openModelFolder(nodeFolder(dir));
  });
  afterAll(async () => {
    await folder?.checkpoint.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('logits and hidden states of 30 positions equal the resident run', async () => {
    const options: ModelLoadOptions = { prefillChunk: 14, contextLength: 48, warmup: false, bufferLimit: 17_000 };
    const resident = await DeepseekModel.load(gpu!, folder, options);
    // One expert: gate and up [100, 44] and down [44, 100] in BF16 = 26,400 bytes; 2 MoE layers; 4.5 slots' room.
    const offloaded = await DeepseekModel.load(gpu!, folder, { ...options, gpuMemory: Math.floor(resident.plan.total - (21 - 4.5) * 2 * 26_400) });
    try {
      expect(offloaded.plan.offload).toMatchObject({ slots: 4, expertBytes: 26_400, layers: [1, 2] });
      expect(offloaded.plan.weightPlan.tensors.get('model.layers.1.mlp.experts.0.gate_proj.weight')!.parts.map((p) => p.count)).toEqual([1, 1, 1, 1]);
      const prompt = Array.from({ length: 30 }, (_, i) => (i * 67 + 5) % 251);
      const a = await resident.appendOutputs(prompt);
      const b = await offloaded.appendOutputs(prompt);
      expect(sameBits(b.logits, a.logits), 'logits').toBe(true);
      expect(sameBits(b.hidden, a.hidden), 'hidden').toBe(true);
    } finally {
      resident.dispose();
      offloaded.dispose();
    }
  });
});

// q4 experts (--quantize q4) in the slot pools: an upload quantizes the expert as the resident load did, codes
// and group scales at the slot's offsets, so the offloaded logits are the resident q4 model's, bit for bit.
describe.skipIf(!gpu)('expert offload with q4 weights', () => {
  it('logits and hidden states of a prompt longer than a chunk equal the resident q4 run', async () => {
    const folder = await openModelFolder(nodeFolder('kernels-test/fixtures/tiny-v3'));
    const q4 = { ...OPTIONS, quantize: 'q4' as const };
    const plan = (gpuMemory?: number) =>
      planMemory(folder.config, folder.checkpoint, { contextLength: 64, prefillChunk: 8, quantize: 'q4', attentionWorkgroups: defaultAttentionWorkgroups(gpu!), gpuMemory }, bufferLimit(gpu!.limits));
    const most = plan(plan().total - 1).offload!;
    const budget = Math.floor(most.resident + (SLOTS + 0.5) * most.expertBytes * most.layers.length);
    const resident = await DeepseekModel.load(gpu!, folder, q4);
    const offloaded = await DeepseekModel.load(gpu!, folder, { ...q4, gpuMemory: budget });
    try {
      expect(offloaded.plan.offload?.slots).toBe(SLOTS);
      const a = await resident.appendOutputs(PROMPT);
      const b = await offloaded.appendOutputs(PROMPT);
      expect(sameBits(b.logits, a.logits), 'logits').toBe(true);
      expect(sameBits(b.hidden, a.hidden), 'hidden').toBe(true);
      expect(offloaded.expertCache!.bytesUploaded).toBeGreaterThan(0);
    } finally {
      resident.dispose();
      offloaded.dispose();
      await folder.checkpoint.close();
    }
  });
});
