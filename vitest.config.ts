import { defineConfig } from 'vitest/config';

const GPU_PROFILE_TESTS = ['model', 'q4-model', 'batch', 'small-kernels', 'moe-route', 'mla-merge', 'kv-append'].map((t) => `kernels-test/${t}.test.ts`);

export default defineConfig({
  // Tests that import 'deepseek-webgpu' by name get the TypeScript sources (package.json's "source"
  // condition), not dist/, so they need no build. The rest is Vite's default list for server code.
  ssr: { resolve: { conditions: ['source', 'module', 'node', 'development|production'] } },
  test: {
    // GPU tests share one SwiftShader device per worker; two cores gain nothing from more.
    maxWorkers: 2,
    // A CLI a test spawns through bin/deepseek-webgpu.js runs src/ (through tsx), not a dist/ that may predate
    // the sources under test; src/package.test.ts checks the bin's dist/ path on its own.
    env: { DEEPSEEK_WEBGPU_SOURCES: '1' },
    testTimeout: 120_000,
    hookTimeout: 120_000,
    projects: [
      // Everything, kernels launched as the adapter's profile says (SwiftShader: the CPU profile).
      { extends: true, test: { name: 'default', include: ['src/**/*.test.ts', 'kernels-test/**/*.test.ts', 'tools/**/*.test.ts'] } },
      // Again under the GPU launch profile (kernels-test/helpers/profile.ts), SwiftShader running a GPU's launch
      // shapes: the model golden test, batched decoding and the cheapest kernel tests (about as long as the default model test; a
      // third of the shape sweep's seeds run under it too). `npm run test:gpu-profile` runs every kernel test this way (~4 min).
      {
        extends: true,
        test: {
          name: 'gpu-profile',
          include: GPU_PROFILE_TESTS,
          env: { DEEPSEEK_WEBGPU_TEST_PROFILE: 'gpu' },
        },
      },
    ],
  },
});
