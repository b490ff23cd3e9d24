// The browser bundles (esbuild), after `tsc -p tsconfig.build.json` has written dist/ for bundler and Node
// users (`npm run build` runs both):
//   dist/browser/deepseek-webgpu.js  src/index.ts with its two dependencies inlined: one ES module a page can
//                                    import with no bundler and no import map
//   dist/browser/deepseek-webgpu-worker.js  src/worker/worker-entry.ts, the engine served in a Web Worker
//                                    (loadModelInWorker() starts it from beside the module above)
//   dist/demo/main.js                demo/main.ts, which imports the module above at run time
// The library bundle must reach no Node-only module: a `node:` import, a Node builtin or the `webgpu` (Dawn)
// package fails the build, naming the importer.
//
// Usage: tsx tools/build-browser.ts [--out DIR]
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions, type Plugin } from 'esbuild';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
/** Where the library bundle lands, relative to the output folder (the demo imports it from there). */
export const LIBRARY_BUNDLE = 'browser/deepseek-webgpu.js';
/** The worker bundle, beside the library bundle (src/worker/worker-engine.ts expects it there). */
export const WORKER_BUNDLE = 'browser/deepseek-webgpu-worker.js';

/** Node-only modules a browser bundle must not reach. */
export function isNodeOnly(specifier: string): boolean {
  if (specifier.startsWith('node:')) return true;
  const pkg = specifier.split('/')[0];
  return pkg === 'webgpu' || builtinModules.includes(specifier) || builtinModules.includes(pkg);
}

/** Fails the build at the first Node-only import, naming the file that imports it. */
export const refuseNodeOnly: Plugin = {
  name: 'refuse-node-only',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind === 'entry-point' || !isNodeOnly(args.path)) return undefined;
      const from = relative(ROOT, args.importer) || args.importer;
      return { errors: [{ text: `the browser bundle reaches the Node-only module '${args.path}' (imported by ${from}); keep it out of src/index.ts's import graph` }] };
    });
  },
};

export interface BrowserBuild {
  /** Absolute paths of the files written. */
  files: string[];
  /** Every source file inside the library bundle, relative to the repo. */
  libraryInputs: string[];
}

/** esbuild options of the library bundle: src/index.ts and its dependencies as one ES module. */
export function libraryBuildOptions(outfile: string, entry = 'src/index.ts') {
  return {
    entryPoints: [join(ROOT, entry)],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: true,
    metafile: true,
    logLevel: 'silent',
    legalComments: 'eof',
    plugins: [refuseNodeOnly],
  } satisfies BuildOptions;
}

/** Builds the library bundle and the demo into `outDir` (default dist/). */
export async function buildBrowser(outDir = join(ROOT, 'dist')): Promise<BrowserBuild> {
  const library = join(outDir, LIBRARY_BUNDLE);
  const lib = await build(libraryBuildOptions(library));
  const worker = join(outDir, WORKER_BUNDLE);
  await build(libraryBuildOptions(worker, 'src/worker/worker-entry.ts'));
  const demo = join(outDir, 'demo/main.js');
  await build({
    entryPoints: [join(ROOT, 'demo/main.ts')],
    outfile: demo,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: true,
    logLevel: 'silent',
    plugins: [refuseNodeOnly, libraryAtRunTime(`./${relative(dirname(demo), library)}`)],
  });
  return { files: [library, worker, demo], libraryInputs: Object.keys(lib.metafile.inputs) };
}

/** Imports of src/index.ts become run-time imports of the library bundle at `url` (not inlined again). */
export function libraryAtRunTime(url: string): Plugin {
  return {
    name: 'library-at-run-time',
    setup(b) {
      b.onResolve({ filter: /\/src\/index\.ts$/ }, () => ({ path: url, external: true }));
    },
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--out');
  const out = at > 0 ? resolve(process.argv[at + 1]) : undefined;
  try {
    const { files } = await buildBrowser(out);
    for (const f of files) console.log(`wrote ${relative(process.cwd(), f)}`);
  } catch (e) {
    const errors = (e as { errors?: { text: string; location?: { file: string; line: number } }[] }).errors;
    if (!errors) throw e;
    for (const err of errors) console.error(`build-browser: ${err.location ? `${err.location.file}:${err.location.line}: ` : ''}${err.text}`);
    process.exit(1);
  }
}
