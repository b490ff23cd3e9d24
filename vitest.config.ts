import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Tests that import 'deepseek-webgpu' by name get the TypeScript sources (package.json's "source"
  // condition), not dist/, so they need no build. The rest is Vite's default list for server code.
  ssr: { resolve: { conditions: ['source', 'module', 'node', 'development|production'] } },
  test: {
    include: ['src/**/*.test.ts', 'kernels-test/**/*.test.ts', 'tools/**/*.test.ts'],
    // GPU tests share one SwiftShader device per worker; two cores gain nothing from more.
    maxWorkers: 2,
    // A CLI a test spawns through bin/deepseek-webgpu.js runs src/ (through tsx), not a dist/ that may predate
    // the sources under test; src/package.test.ts checks the bin's dist/ path on its own.
    env: { DEEPSEEK_WEBGPU_SOURCES: '1' },
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
