// The browser entry (src/index.ts, and dist/index.js once `npm run build` wrote it) must reach no Node-only
// module: no `node:` import, no Node builtin, not the `webgpu` (Dawn) package. Checked two ways: walking the
// import graph file by file, and bundling it for the browser with esbuild (which also follows the
// dependencies' own imports).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { isNodeOnly, libraryBuildOptions } from '../tools/build-browser.ts';

/** Static import / export-from / dynamic import specifiers; `import type` and `export type` are erased and skipped. */
function specifiers(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const found: string[] = [];
  const patterns = [
    /^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s*)?['"]([^'"]+)['"]/gm,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns) for (const m of code.matchAll(re)) found.push(m[1]);
  return found;
}

/** Every file reachable from `entry` through relative imports, and every bare specifier with its importer. */
function importGraph(entry: string): { files: string[]; external: { specifier: string; importer: string }[] } {
  const seen = new Set<string>();
  const external: { specifier: string; importer: string }[] = [];
  const stack = [resolve(entry)];
  while (stack.length) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const spec of specifiers(readFileSync(file, 'utf8'))) {
      if (spec.startsWith('.')) stack.push(resolve(dirname(file), spec));
      else external.push({ specifier: spec, importer: relative(process.cwd(), file) });
    }
  }
  return { files: [...seen], external };
}

const DIST_ENTRY = 'dist/index.js';
// CI builds before testing, so there dist/ must be checked; locally it is checked when present.
const distRequired = Boolean(process.env.CI);

describe('the browser entry reaches no Node-only module', () => {
  it('the parser finds what it should', () => {
    const src = `import a from 'node:fs';\nimport type { B } from 'webgpu';\nexport * from "./c.ts";\nexport { d } from './d.ts';\nconst e = await import('./e.js');\nimport './f.js';\n// import x from 'node:os'`;
    expect(specifiers(src)).toEqual(['node:fs', './c.ts', './d.ts', './f.js', './e.js']);
    expect(['node:fs', 'fs', 'fs/promises', 'webgpu', 'os'].every(isNodeOnly)).toBe(true);
    expect(['@huggingface/jinja', './x.ts', 'commander'].some(isNodeOnly)).toBe(false);
  });

  it('src/index.ts: import graph', () => {
    const { files, external } = importGraph('src/index.ts');
    expect(files.length).toBeGreaterThan(30);
    expect(files.map((f) => relative(process.cwd(), f))).not.toContain('src/node.ts');
    expect(external.filter((e) => isNodeOnly(e.specifier))).toEqual([]);
    expect([...new Set(external.map((e) => e.specifier))].sort()).toEqual(['@huggingface/jinja', '@huggingface/tokenizers']);
  });

  it.skipIf(!distRequired && !existsSync(DIST_ENTRY))(`${DIST_ENTRY}: import graph (after npm run build)`, () => {
    expect(existsSync(DIST_ENTRY), `${DIST_ENTRY} is missing: run npm run build`).toBe(true);
    const { files, external } = importGraph(DIST_ENTRY);
    expect(files.length).toBeGreaterThan(30);
    expect(files.every((f) => f.endsWith('.js')), 'every relative import was rewritten to .js').toBe(true);
    expect(external.filter((e) => isNodeOnly(e.specifier))).toEqual([]);
  });

  it('src/index.ts: bundled for the browser by esbuild, dependencies included', async () => {
    const result = await build({ ...libraryBuildOptions('bundle.js'), write: false, sourcemap: false });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((i) => i.includes('@huggingface/tokenizers'))).toBe(true);
    expect(inputs.filter((i) => isNodeOnly(i) || /node_modules\/webgpu\//.test(i))).toEqual([]);
    const code = result.outputFiles[0].text;
    expect(code).not.toMatch(/\bfrom\s*["'](?:node:|webgpu["'])/);
    expect(code).not.toMatch(/\brequire\(/);
  });
});
