#!/usr/bin/env node
// Runs the compiled CLI in dist/ (the published package has it: prepack runs `npm run build`), which starts
// fast and needs no TypeScript tooling at run time. In a clone, the TypeScript sources run through tsx (a
// devDependency) when dist/ has not been built, or when DEEPSEEK_WEBGPU_SOURCES=1: the tests set it (see
// vitest.config.ts) so that a CLI they spawn runs the sources under test, never a stale build.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/cli.js', import.meta.url);
const sources = new URL('../src/cli.ts', import.meta.url);
const wantSources = process.env.DEEPSEEK_WEBGPU_SOURCES === '1' && existsSync(sources);
let cli;
if (existsSync(compiled) && !wantSources) {
  cli = await import(compiled.href);
} else if (existsSync(sources)) {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    console.error('deepseek-webgpu: dist/ is missing and tsx is not installed: run `npm install && npm run build`');
    process.exit(1);
  }
  register();
  cli = await import(sources.href);
} else {
  console.error('deepseek-webgpu: dist/cli.js is missing: this package was published without its build (`npm run build`)');
  process.exit(1);
}
await cli.main(process.argv);
