// The memory plan is the truth: it lists exactly the storage buffers a load creates (counted at
// device.createBuffer), weights too large for one buffer are split into parts that compute bit for bit what
// the whole weight computes, and a plan that breaks a limit or the budget refuses before anything is read.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Checkpoint } from '../src/checkpoint/checkpoint.ts';
import { quantizeFp8Blocks } from '../src/checkpoint/fp8-quantize.ts';
import type { TensorInfo } from '../src/checkpoint/safetensors.ts';
import { openModelFolder, type ModelFolder } from '../src/checkpoint/model-folder.ts';
import { nodeFolder, openCheckpointDir } from '../src/checkpoint/sources/node-file.ts';
import { generate } from '../src/decode/generate.ts';
import { GpuError, GpuLimitError } from '../src/errors.ts';
import { DeepseekModel, defaultAttentionWorkgroups, type ModelLoadOptions } from '../src/model/deepseek-model.ts';
import { bufferLimit, planMemory } from '../src/model/memory-plan.ts';
import { getTestGpu } from './helpers/gpu.ts';

const gpu = await getTestGpu();

/** Runs `load` counting the bytes of every storage buffer created meanwhile, on the shared device. */
async function storageCreated<T>(load: () => Promise<T>): Promise<{ result: T; bytes: number; count: number }> {
  const device = gpu!.device;
  const spy = vi.spyOn(device, 'createBuffer');
  try {
    const result = await load();
    const storage = spy.mock.calls.map(([d]) => d).filter((d) => d.usage & GPUBufferUsage.STORAGE);
    return { result, bytes: storage.reduce((n, d) => n + d.size, 0), count: storage.length };
  } finally {
    spy.mockRestore();
  }
}

const FIXTURES = ['kernels-test/fixtures/tiny-v3', 'kernels-test/fixtures/tiny-v2lite', 'weights/tiny-v3-trained'];

describe.skipIf(!gpu)('the memory plan counts exactly what a load allocates', () => {
  const cases = FIXTURES.flatMap((dir) => [undefined, 'fp8' as const].flatMap((quantize) => [true, false].map((mtp) => ({ dir, quantize, mtp }))));
  it.each(cases)('$dir quantize $quantize mtp $mtp', async ({ dir, quantize, mtp }) => {
    const folder = await openModelFolder(nodeFolder(dir));
    try {
      const options = { prefillChunk: 7, contextLength: 50, quantize, mtp, warmup: false };
      const { result: model, bytes, count } = await storageCreated(() => DeepseekModel.load(gpu!, folder, options));
      try {
        expect(bytes).toBe(model.plan.total);
        expect(count).toBe(model.plan.buffers.length);
        expect(model.weights.bytes).toBe(model.plan.weights);
        // The same plan as one made without loading (what `info --model` prints and the budget is checked against).
        const attentionWorkgroups = defaultAttentionWorkgroups(gpu!);
        expect(planMemory(folder.config, folder.checkpoint, { ...options, prefillChunk: 7, attentionWorkgroups }, bufferLimit(gpu!.limits)).total).toBe(bytes);
        // Decoding, speculative too, allocates nothing more.
        const more = await storageCreated(() => model.warmup());
        expect(more.count).toBe(0);
      } finally {
        model.dispose();
      }
    } finally {
      await folder.checkpoint.close();
    }
  });
});

describe.skipIf(!gpu)('the memory plan under gpuMemory counts exactly what an offloaded load allocates', () => {
  it('tiny-v3 with 6 expert slots per MoE layer', async () => {
    const folder = await openModelFolder(nodeFolder('kernels-test/fixtures/tiny-v3'));
    try {
      const options = { prefillChunk: 7, contextLength: 50, warmup: false };
      const attentionWorkgroups = defaultAttentionWorkgroups(gpu!);
      const whole = planMemory(folder.config, folder.checkpoint, { ...options, attentionWorkgroups }, bufferLimit(gpu!.limits));
      // 9.5 experts fewer in both MoE layers (98,328 bytes each): 6 of 16 slots with the offload scratch
      const gpuMemory = whole.total - 9.5 * 2 * 98_328;
      const { result: model, bytes, count } = await storageCreated(() => DeepseekModel.load(gpu!, folder, { ...options, gpuMemory }));
      try {
        expect(model.plan.offload?.slots).toBe(6);
        expect(bytes).toBe(model.plan.total);
        expect(count).toBe(model.plan.buffers.length);
        expect(bytes).toBeLessThanOrEqual(gpuMemory);
        const more = await storageCreated(() => model.warmup());
        expect(more.count).toBe(0);
      } finally {
        model.dispose();
      }
    } finally {
      await folder.checkpoint.close();
    }
  });
});

function expectSameBits(a: Float32Array | undefined, b: Float32Array | undefined, what: string): void {
  expect(a, what).toBeDefined();
  expect(Buffer.from(a!.buffer, a!.byteOffset, a!.byteLength).equals(Buffer.from(b!.buffer, b!.byteOffset, b!.byteLength)), what).toBe(true);
}

// tiny-v3: lm_head, the MTP head and both embeddings are 2048 x 256 BF16 (1 MiB). 400,000 bytes splits them
// into parts of 776, 776 and 496 rows (tables: 781, 781, 486) and every expert stack into 12 + 4 experts;
// everything else fits (the largest, the attention scratch of 3 rows, is 384 KiB).
const SPLIT_LIMIT = 400_000;

describe.skipIf(!gpu)('weights split to fit a buffer limit compute what the whole weights compute', () => {
  const dir = 'kernels-test/fixtures/tiny-v3';
  let folder: ModelFolder;
  let golden: Checkpoint;
  let whole: DeepseekModel;
  let split: DeepseekModel;
  let tokens: number[];
  beforeAll(async () => {
    folder = await openModelFolder(nodeFolder(dir));
    golden = await openCheckpointDir(dir, { file: 'golden.safetensors' });
    // A prefill chunk of 3 allows 2 drafts per speculative step and crosses chunks in 20 tokens.
    const options: ModelLoadOptions = { prefillChunk: 3, contextLength: 64, warmup: false };
    whole = await DeepseekModel.load(gpu!, folder, options);
    split = await DeepseekModel.load(gpu!, folder, { ...options, bufferLimit: SPLIT_LIMIT });
    tokens = Array.from(await golden.readIntegers('seq3.tokens')).slice(0, 20);
  });
  afterAll(async () => {
    whole?.dispose();
    split?.dispose();
    await folder?.checkpoint.close();
    await golden?.close();
  });

  it('splits lm_head, the MTP head, the embeddings and the expert stacks into parts under the limit', () => {
    const parts = (name: string) => split.plan.weightPlan.tensors.get(name)!.parts.map((p) => p.count);
    expect(parts('lm_head.weight')).toEqual([776, 776, 496]);
    expect(parts('model.layers.3.shared_head.head.weight')).toEqual([776, 776, 496]);
    expect(parts('model.embed_tokens.weight')).toEqual([781, 781, 486]);
    expect(parts('model.layers.3.embed_tokens.weight')).toEqual([781, 781, 486]);
    expect(parts('model.layers.1.mlp.experts.0.down_proj.weight')).toEqual([12, 4]);
    expect(split.weights.lmHead.map((p) => [p.firstRow, p.weight.outDim])).toEqual([[0, 776], [776, 776], [1552, 496]]);
    expect(split.weights.embed.parts).toHaveLength(3);
    expect(Math.max(...split.plan.buffers.map((b) => b.bytes))).toBeLessThanOrEqual(SPLIT_LIMIT);
    expect(whole.weights.lmHead).toHaveLength(1);
  });

  it('logits and hidden states of every position (the `logits` path), and the MTP logits', async () => {
    for (const m of [whole, split]) m.truncate(0);
    const a = await whole.appendOutputs(tokens);
    const b = await split.appendOutputs(tokens);
    expectSameBits(b.logits, a.logits, 'logits');
    expectSameBits(b.hidden, a.hidden, 'hidden');
    const H = folder.config.hiddenSize;
    const mtpA = await whole.appendMtpLogits(a.hidden.subarray(0, (tokens.length - 1) * H), tokens.slice(1));
    const mtpB = await split.appendMtpLogits(b.hidden.subarray(0, (tokens.length - 1) * H), tokens.slice(1));
    expectSameBits(mtpB, mtpA, 'mtp logits');
  });

  it('plain and speculative decoding: the same tokens, and the same main and draft logits at every step', async () => {
    for (const speculative of ['none', 'mtp'] as const) {
      const run = async (m: DeepseekModel) => {
        m.truncate(0);
        const gen = generate(m, tokens.slice(0, 5), { maxNewTokens: 12, eosTokenIds: [], speculative, draftTokens: 2 });
        for await (const _ of gen);
        return (await gen.result).tokens;
      };
      expect(await run(split), speculative).toEqual(await run(whole));
    }
    const greedy = { temperature: 0, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1, penalizedTokens: [], random: 0 };
    const steps = async (m: DeepseekModel) => {
      const spec = m.speculator()!;
      spec.reset();
      let t = await spec.prefill(tokens.slice(0, 7), greedy);
      const out = [];
      for (let i = 0; i < 4; i++) {
        const step = await spec.step(t, [greedy, greedy], [greedy, greedy, greedy], true);
        out.push(step);
        const accepted = step.drafts.findIndex((d, k) => d !== step.predictions[k]);
        const n = accepted < 0 ? 2 : accepted;
        t = step.predictions[n];
        spec.commit(step, n, t);
      }
      return out;
    };
    const [a, b] = [await steps(whole), await steps(split)];
    a.forEach((s, i) => {
      expect(b[i].drafts, `step ${i} drafts`).toEqual(s.drafts);
      expectSameBits(b[i].mainLogits, s.mainLogits, `step ${i} main logits`);
      expectSameBits(b[i].draftLogits, s.draftLogits, `step ${i} draft logits`);
    });
  });
});

/** tiny-v3 with lm_head stored as FP8 e4m3 with 128x128 block scales (as a checkpoint may ship it). */
async function withFp8LmHead(folder: ModelFolder): Promise<ModelFolder> {
  const ckpt = folder.checkpoint;
  const { vocabSize: V, hiddenSize: H } = folder.config;
  const q = quantizeFp8Blocks(await ckpt.readF32('lm_head.weight'), V, H, 128, 128);
  const scale = new Uint8Array(q.scaleInv.buffer);
  const fake: Record<string, { info: TensorInfo; bytes: Uint8Array }> = {
    'lm_head.weight': { info: { ...ckpt.info('lm_head.weight'), dtype: 'F8_E4M3', begin: 0, end: q.codes.length }, bytes: q.codes },
    'lm_head.weight_scale_inv': { info: { name: 'lm_head.weight_scale_inv', dtype: 'F32', shape: [V / 128, H / 128], file: 'fake', begin: 0, end: scale.length }, bytes: scale },
  };
  const checkpoint = Object.create(ckpt) as Checkpoint;
  checkpoint.names = () => [...ckpt.names(), 'lm_head.weight_scale_inv'];
  checkpoint.info = (name) => fake[name]?.info ?? ckpt.info(name);
  checkpoint.read = async (name, begin = 0, end) => fake[name]?.bytes.slice(begin, end) ?? ckpt.read(name, begin, end);
  return { ...folder, checkpoint };
}

describe.skipIf(!gpu)('an FP8 lm_head split at whole 128-row scale blocks', () => {
  it('gives the logits of the whole FP8 lm_head, bit for bit', async () => {
    const folder = await withFp8LmHead(await openModelFolder(nodeFolder('kernels-test/fixtures/tiny-v3')));
    const options: ModelLoadOptions = { prefillChunk: 1, contextLength: 16, warmup: false, mtp: false };
    const whole = await DeepseekModel.load(gpu!, folder, options);
    // 200,000 bytes: 6 blocks of 128 FP8 rows (196,608 bytes) per part: 768 + 768 + 512 rows.
    const split = await DeepseekModel.load(gpu!, folder, { ...options, bufferLimit: 200_000 });
    try {
      expect(whole.weights.lmHead[0].weight.format).toBe('fp8');
      expect(split.weights.lmHead.map((p) => [p.firstRow, p.weight.outDim])).toEqual([[0, 768], [768, 768], [1536, 512]]);
      const tokens = [5, 17, 300, 2047, 0, 9];
      expectSameBits((await split.appendOutputs(tokens)).logits, (await whole.appendOutputs(tokens)).logits, 'logits');
    } finally {
      whole.dispose();
      split.dispose();
      await folder.checkpoint.close();
    }
  });
});

describe.skipIf(!gpu)('a plan that does not fit is refused before the first byte is read', () => {
  const dir = 'kernels-test/fixtures/tiny-v3';
  let folder: ModelFolder;
  beforeAll(async () => {
    folder = await openModelFolder(nodeFolder(dir));
  });
  afterAll(async () => {
    await folder?.checkpoint.close();
  });

  /** The load's error, with how many checkpoint reads and storage buffers it made first. */
  async function refusal(options: ModelLoadOptions): Promise<{ error: unknown; reads: number; buffers: number }> {
    const read = vi.spyOn(folder.checkpoint, 'read');
    try {
      const { result: error, count } = await storageCreated(() => DeepseekModel.load(gpu!, folder, { warmup: false, ...options }).then((m) => (m.dispose(), null), (e: unknown) => e));
      return { error, reads: read.mock.calls.length, buffers: count };
    } finally {
      read.mockRestore();
    }
  }

  it('a weight that cannot be split and exceeds the buffer limit: GpuLimitError naming it, its size and the limit', async () => {
    // Layer 0's dense gate_proj, 512 x 256 FP8 in the matmul layout, is 131,072 bytes; matmul weights other
    // than lm_head are never split. Everything before it in the plan is smaller.
    const { error, reads, buffers } = await refusal({ bufferLimit: 100_000, prefillChunk: 1, contextLength: 16 });
    expect(error).toBeInstanceOf(GpuLimitError);
    expect(error).toMatchObject({ limit: 'bufferLimit', required: 131_072, available: 100_000 });
    expect(String(error)).toContain("tensor 'model.layers.0.mlp.gate_proj.weight'");
    expect({ reads, buffers }).toEqual({ reads: 0, buffers: 0 });
  });

  it('a scratch buffer over the limit is refused the same way', async () => {
    // The attention's split scratch grows with the prefill chunk and the split target: 64 rows x 4 heads x 64
    // splits x 128 x 4 bytes when the attention aims at 4096 workgroups.
    const { error, reads, buffers } = await refusal({ prefillChunk: 64, bufferLimit: 2 ** 23 - 4, contextLength: 16, attentionWorkgroups: 4096 });
    expect(error).toBeInstanceOf(GpuLimitError);
    expect(error).toMatchObject({ required: 2 ** 23 });
    expect(String(error)).toContain("scratch buffer 'attention split outputs'");
    expect({ reads, buffers }).toEqual({ reads: 0, buffers: 0 });
  });

  it('memoryBudget: one byte below the planned total refuses with the parts; the total itself loads', async () => {
    const options = { prefillChunk: 4, contextLength: 32 };
    const total = planMemory(folder.config, folder.checkpoint, { ...options, attentionWorkgroups: defaultAttentionWorkgroups(gpu!) }, bufferLimit(gpu!.limits)).total;
    const { error, reads, buffers } = await refusal({ ...options, memoryBudget: total - 1 });
    expect(error).toBeInstanceOf(GpuError);
    expect(String(error)).toMatch(new RegExp(`needs .*\\(${total} bytes: weights .*, latent cache .*, activations .*, other .*\\) but the memory budget is .*\\(${total - 1} bytes\\)`));
    expect({ reads, buffers }).toEqual({ reads: 0, buffers: 0 });
    const fits = await refusal({ ...options, memoryBudget: total });
    expect(fits.error).toBeNull();
    expect(fits.buffers).toBeGreaterThan(0);
  });
});
