// The device itself: adapter present where it must be, info and limits sane, a real compute shader exact,
// and createGpu's limit and adapter errors (those run on a fake GPU, so everywhere).

import { describe, expect, it } from 'vitest';
import { GpuError, GpuLimitError } from '../src/errors.ts';
import { createGpu } from '../src/gpu/device.ts';
import { getTestGpu, gpuRequiredBecause } from './helpers/gpu.ts';

const gpu = await getTestGpu();

describe('adapter availability', () => {
  const because = gpuRequiredBecause();
  it.runIf(because)(`a WebGPU adapter exists (required: ${because})`, () => {
    expect(gpu, 'no adapter: every GPU test would be skipped; see the warning above for the reason').not.toBeNull();
  });
});

describe.skipIf(!gpu)('device', () => {
  // The callback runs even when the suite is skipped, so nothing may dereference gpu out here.
  const device = gpu?.device as GPUDevice;

  it('reports adapter info as strings and a boolean fallback flag', () => {
    const info = gpu!.adapterInfo;
    for (const field of ['vendor', 'architecture', 'device', 'description'] as const) {
      expect(typeof info[field], field).toBe('string');
    }
    expect(typeof info.isFallbackAdapter).toBe('boolean');
  });

  it('is granted the adapter maximum for the limits the engine sizes from', () => {
    for (const name of ['maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeInvocationsPerWorkgroup'] as const) {
      expect(gpu!.limits[name], name).toBe(gpu!.adapter.limits[name]);
    }
  });

  it('computes y = 2x + 1 over 1000 elements exactly', async () => {
    const n = 1000; // not a multiple of the workgroup size: the bounds check matters
    const module = device.createShaderModule({
      label: 'device.test affine',
      code: /* wgsl */ `
        @group(0) @binding(0) var<storage, read> x: array<f32>;        // [n]
        @group(0) @binding(1) var<storage, read_write> y: array<f32>;  // [n]
        @compute @workgroup_size(64)
        fn main(@builtin(global_invocation_id) id: vec3u) {
          if (id.x < arrayLength(&x)) { y[id.x] = 2.0 * x[id.x] + 1.0; }
        }`,
    });
    const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    // Inputs are small integers and halves, so 2x + 1 is exact in f32.
    const x = Float32Array.from({ length: n }, (_, i) => (i - 500) * 0.5);
    const xBuf = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    const yBuf = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
    const readBuf = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    try {
      device.queue.writeBuffer(xBuf, 0, x);
      const bindGroup = device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: { buffer: xBuf } },
          { binding: 1, resource: { buffer: yBuf } },
        ],
      });
      await gpu!.captureErrors('device.test affine', async () => {
        const encoder = device.createCommandEncoder();
        const pass = encoder.beginComputePass();
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, bindGroup);
        pass.dispatchWorkgroups(Math.ceil(n / 64));
        pass.end();
        encoder.copyBufferToBuffer(yBuf, 0, readBuf, 0, n * 4);
        device.queue.submit([encoder.finish()]);
        await readBuf.mapAsync(GPUMapMode.READ);
      });
      const y = new Float32Array(readBuf.getMappedRange().slice(0));
      readBuf.unmap();
      const wrong = [...y.keys()].filter((i) => y[i] !== 2 * x[i] + 1);
      expect(wrong.slice(0, 5).map((i) => ({ i, x: x[i], got: y[i], want: 2 * x[i] + 1 }))).toEqual([]);
    } finally {
      for (const b of [xBuf, yBuf, readBuf]) b.destroy();
    }
  });

  it('captureErrors names the context of a validation error', async () => {
    const buf = device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE }); // no COPY_DST
    await expect(
      gpu!.captureErrors('clearing a storage-only buffer', () => {
        const encoder = device.createCommandEncoder();
        encoder.clearBuffer(buf);
        encoder.finish();
      }),
    ).rejects.toThrow(/validation error in 'clearing a storage-only buffer'.*CopyDst/s);
    buf.destroy();
  });
});

// A GPU whose single adapter has the given limits and no features; enough for createGpu's checks.
function fakeGpu(adapterLimits: Record<string, number>, requested: { limits?: Record<string, number> } = {}): GPU {
  const adapter = {
    limits: adapterLimits,
    features: new Set<string>(),
    info: { vendor: 'v', architecture: 'a', device: 'd', description: 'fake', isFallbackAdapter: false },
    requestDevice: async (desc: GPUDeviceDescriptor) => {
      requested.limits = desc.requiredLimits as Record<string, number>;
      return {
        features: new Set<string>(),
        limits: adapterLimits,
        lost: new Promise(() => {}),
        addEventListener: () => {},
        destroy: () => {},
      };
    },
  };
  return { requestAdapter: async () => adapter } as unknown as GPU;
}

describe('createGpu checks (fake adapter)', () => {
  const limits = {
    maxStorageBufferBindingSize: 1 << 27,
    maxBufferSize: 1 << 28,
    maxStorageBuffersPerShaderStage: 8,
    maxComputeWorkgroupStorageSize: 16384,
    maxComputeInvocationsPerWorkgroup: 256,
    maxComputeWorkgroupSizeX: 256,
    maxComputeWorkgroupSizeY: 256,
    maxComputeWorkgroupsPerDimension: 65535,
    minStorageBufferOffsetAlignment: 256,
  };

  it('requests the adapter maxima', async () => {
    const requested: { limits?: Record<string, number> } = {};
    await createGpu({ gpu: fakeGpu(limits, requested) });
    expect(requested.limits).toMatchObject({ maxBufferSize: 1 << 28, maxStorageBuffersPerShaderStage: 8 });
  });

  it('throws GpuLimitError naming the limit, the required and the available value', async () => {
    const err = await createGpu({
      gpu: fakeGpu(limits),
      requiredLimits: { maxStorageBufferBindingSize: 1 << 30 },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GpuLimitError);
    expect(err).toMatchObject({ limit: 'maxStorageBufferBindingSize', required: 1 << 30, available: 1 << 27 });
    expect(String(err)).toMatch(/maxStorageBufferBindingSize.*1073741824.*134217728/);
  });

  it('treats min* limits (alignments) as better when larger', async () => {
    await expect(
      createGpu({ gpu: fakeGpu(limits), requiredLimits: { minStorageBufferOffsetAlignment: 512 } }),
    ).resolves.toBeTruthy();
    await expect(
      createGpu({ gpu: fakeGpu(limits), requiredLimits: { minStorageBufferOffsetAlignment: 64 } }),
    ).rejects.toBeInstanceOf(GpuLimitError);
  });

  it('throws GpuError with the fix when there is no adapter', async () => {
    const none = { requestAdapter: async () => null } as unknown as GPU;
    const err = await createGpu({ gpu: none }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GpuError);
    if (process.platform === 'linux') expect(String(err)).toMatch(/setup-swiftshader\.mjs.*chromium-common libvulkan1/);
  });
});
