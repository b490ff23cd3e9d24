import { defineConfig } from 'vitest/config';

// `npm run test:browser`: the suites under browser-test/, which drive headless Chromium (one browser, one
// file; the plain `vitest run` does not include them).
export default defineConfig({
  test: {
    include: ['browser-test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
