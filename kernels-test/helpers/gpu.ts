// The GPU for kernel tests: one device per test worker, created on first use and shared by every file the worker
// runs (vitest's default forks pool gives each file its own process, so in practice one device per file).
// Suites use `const gpu = await getTestGpu(); describe.skipIf(!gpu)(...)`. Don't destroy() the shared device.
// Importing this first also defines GPUBufferUsage & co. as globals (src/gpu/node-webgpu.ts).

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Gpu } from '../../src/gpu/device.ts';
import { createNodeGpu, SWIFTSHADER_DIR } from '../../src/gpu/node-webgpu.ts';

// On globalThis, not in a module variable: the test runner may evaluate this module once per test file.
const CACHE = Symbol.for('deepseek-webgpu.testGpu');
type Cache = { [CACHE]?: Promise<Gpu | null> };

/** The worker's shared Gpu, or null (with the reason logged once) when there is no adapter. */
export function getTestGpu(): Promise<Gpu | null> {
  const cache = globalThis as Cache;
  cache[CACHE] ??= createNodeGpu({ label: 'kernels-test' }).catch((err: unknown) => {
    console.warn(`GPU tests will be skipped: ${(err as Error)?.message ?? err}`);
    return null;
  });
  return cache[CACHE];
}

/**
 * Why an adapter must exist here, or undefined if it may be missing. CI must not pass by skipping every GPU test,
 * so it is required when CI is set or when the SwiftShader fallback was installed.
 */
export function gpuRequiredBecause(): string | undefined {
  if (process.env.CI) return `CI=${process.env.CI} is set`;
  if (process.platform === 'linux' && existsSync(join(SWIFTSHADER_DIR, 'vk_swiftshader_icd.json'))) {
    return `${SWIFTSHADER_DIR} is installed`;
  }
  return undefined;
}
