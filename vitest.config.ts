import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'kernels-test/**/*.test.ts'],
    // GPU tests share one SwiftShader device per worker; two cores gain nothing from more.
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
