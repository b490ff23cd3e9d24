// A WebGPU error is a failure of the step that caused it, never a silently dropped command buffer: a storage
// binding WebGPU would refuse is a ShaderError when it is recorded; an invalid dispatch, a destroyed buffer
// or an out-of-memory error during a step throws a GpuError naming the phase and the kernel, and no token
// is produced after it.
import { afterEach, describe, expect, it } from 'vitest';
import { GpuError, ShaderError } from '../src/errors.ts';
import { openModelFolder } from '../src/checkpoint/model-folder.ts';
import { nodeFolder } from '../src/checkpoint/sources/node-file.ts';
import { generate } from '../src/decode/generate.ts';
import { defineKernel } from '../src/gpu/kernel.ts';
import { rmsnorm } from '../src/kernels/rmsnorm.ts';
import { DeepseekModel } from '../src/model/deepseek-model.ts';
import { getTestGpu } from './helpers/gpu.ts';
import { KernelHarness } from './helpers/harness.ts';

const gpu = await getTestGpu();

describe.skipIf(!gpu)('WebGPU errors fail the step', () => {
  let h: KernelHarness;
  afterEach(() => h?.destroy());

  it('a storage binding at an offset WebGPU refuses is a ShaderError naming the kernel, binding and buffer', () => {
    h = new KernelHarness(gpu!.device);
    const dim = 7; // rows of 28 bytes: row 1 starts off the 256-byte alignment
    const x = h.input(new Float32Array(2 * dim), 'hidden rows');
    const record = () => rmsnorm.record(h.rec, { x: { buffer: x, offset: dim * 4, size: dim * 4 }, weight: h.input(new Float32Array(dim)), out: h.output(dim) }, { rows: 1, dim, eps: 1e-6 });
    expect(record).toThrow(ShaderError);
    expect(record).toThrow(/kernel 'rmsnorm': binding 'x' \(buffer 'hidden rows'.*starts at byte 28, not a multiple of minStorageBufferOffsetAlignment/);
  });

  it('an invalid dispatch (past maxComputeWorkgroupsPerDimension) throws a GpuError naming the phase and kernel at check()', async () => {
    h = new KernelHarness(gpu!.device);
    const tooMany = gpu!.limits.maxComputeWorkgroupsPerDimension + 1;
    const bad = defineKernel({ ...rmsnorm.spec, grid: () => [tooMany] });
    const x = h.input(new Float32Array(8));
    bad.record(h.rec, { x, weight: h.input(new Float32Array(8)), out: h.output(8) }, { rows: 1, dim: 8, eps: 1e-6 });
    h.rec.submit('injected step');
    const failure = h.rec.check();
    await expect(failure).rejects.toThrow(GpuError);
    await expect(failure).rejects.toThrow(/validation error in 'injected step' \(kernels: rmsnorm\)/);
    // The recorder is usable again afterwards: a good step checks clean.
    rmsnorm.record(h.rec, { x, weight: h.input(new Float32Array(8)), out: h.output(8) }, { rows: 1, dim: 8, eps: 1e-6 });
    h.rec.submit('next step');
    await expect(h.rec.check()).resolves.toBeUndefined();
  });

  describe.each(['none', 'mtp'] as const)('a generation whose step fails (speculative %s)', (speculative) => {
    it('throws GpuError from that step, yields nothing after it, and result rejects with it', async () => {
      const folder = await openModelFolder(nodeFolder('kernels-test/fixtures/tiny-v3'));
      const model = await DeepseekModel.load(gpu!, folder, { contextLength: 64 });
      try {
        const gen = generate(model, [5, 17, 42], { maxNewTokens: 20, speculative });
        const tokens: number[] = [];
        let error: unknown;
        try {
          for await (const e of gen) {
            tokens.push(e.token!);
            // A weight every step reads disappears, as on a lost allocation.
            if (tokens.length === 2) model.weights.finalNorm.destroy();
          }
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(GpuError);
        expect(String(error)).toMatch(/error in '(decode step|speculative step)' \(kernels: rmsnorm\): .*model\.norm\.weight.*destroyed/s);
        expect(tokens.length).toBeLessThanOrEqual(3); // the tokens of the steps before (a speculative step gives 2)
        await expect(gen.result).rejects.toBe(error);
      } finally {
        model.dispose();
        await folder.checkpoint.close();
      }
    });
  });
});
