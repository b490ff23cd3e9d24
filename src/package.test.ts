// The published package as a user gets it: what the tarball holds, the bin running the compiled CLI without
// loading the engine for --help, the .d.ts files compiling in a strict consumer without skipLibCheck, and a
// doc comment on every field of the public option, result and stats types.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..');
// .ci/run builds before testing; a clone that has not built skips what needs dist/, CI never does.
const built = existsSync(join(ROOT, 'dist', 'cli.js'));
const needsDist = built || process.env.CI ? it : it.skip;

describe('the tarball', () => {
  it('holds the build, the default model and the postinstall script, and no tests, golden files or dev tools', async () => {
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT });
    const files: string[] = (JSON.parse(stdout) as { files: { path: string }[] }[])[0].files.map((f) => f.path);
    expect(files.filter((f) => /\.test\.ts$|(^|\/)test-[\w-]+\.ts$|golden|^(kernels-test|browser-test|shaders|demo|eval|benchmarks)\//.test(f))).toEqual([]);
    expect(files.filter((f) => f.startsWith('tools/'))).toEqual(['tools/setup-swiftshader.mjs']);
    const model = ['config.json', 'generation_config.json', 'model.safetensors.index.json', 'tokenizer.json', 'tokenizer_config.json'];
    for (const name of model) expect(files).toContain(`weights/tiny-v3-trained/${name}`);
    expect(files.filter((f) => /^weights\/tiny-v3-trained\/model-.*\.safetensors$/.test(f))).toHaveLength(2);
    if (built) expect(files).toEqual(expect.arrayContaining(['dist/cli.js', 'dist/node.d.ts', 'dist/browser/deepseek-webgpu.js']));
  });

  it('needs no TypeScript tooling at run time', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(pkg.dependencies)).not.toContain('tsx');
    expect(Object.keys(pkg.dependencies)).not.toContain('esbuild');
    expect(Object.keys(pkg.dependencies)).not.toContain('typescript');
  });
});

describe('the bin', () => {
  const dir = mkdtempSync(join(tmpdir(), 'deepseek-webgpu-bin-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  needsDist('runs dist/cli.js, and --help loads neither the engine nor tsx', async () => {
    // A resolve hook records every module the process loads.
    const log = join(dir, 'modules.log');
    writeFileSync(
      join(dir, 'hooks.mjs'),
      "import { appendFileSync } from 'node:fs';\n" +
        'export async function resolve(specifier, context, next) {\n' +
        '  const resolved = await next(specifier, context);\n' +
        `  appendFileSync(${JSON.stringify(log)}, resolved.url + '\\n');\n` +
        '  return resolved;\n' +
        '}\n',
    );
    writeFileSync(join(dir, 'register.mjs'), "import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n");
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.DEEPSEEK_WEBGPU_SOURCES; // the tests' setting (vitest.config.ts): here the bin as installed
    const { stdout } = await run('node', ['--import', join(dir, 'register.mjs'), 'bin/deepseek-webgpu.js', '--help'], { cwd: ROOT, env });
    expect(stdout).toContain('Usage: deepseek-webgpu');
    const loaded = readFileSync(log, 'utf8').trim().split('\n');
    expect(loaded.some((url) => url.endsWith('/dist/cli.js'))).toBe(true);
    const heavy = loaded.filter((url) => /\/src\/|\/node_modules\/(tsx|webgpu|@huggingface)\/|\/dist\/(engine|model|kernels|gpu)/.test(url));
    expect(heavy).toEqual([]);
  });
});

describe('the types', () => {
  needsDist('dist/*.d.ts compile in a strict consumer without skipLibCheck', async () => {
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = await run('node', [tsc, '-p', 'tools/consumer-types/tsconfig.json'], { cwd: ROOT }).then(
      () => '',
      (e: { stdout: string }) => e.stdout,
    );
    expect(result).toBe('');
  });

  it('every field of the public option, result and stats types has a doc comment', () => {
    const entry = join(ROOT, 'src', 'node.ts');
    const program = ts.createProgram([entry], {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      allowImportingTsExtensions: true,
      noEmit: true,
      types: [],
    });
    const checker = program.getTypeChecker();
    const module = checker.getSymbolAtLocation(program.getSourceFile(entry)!)!;
    const undocumented: string[] = [];
    for (const exported of checker.getExportsOfModule(module)) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      if (!/(Options|Result|Stats|Defaults|InUse)$/.test(symbol.name) || !(symbol.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.TypeAlias))) continue;
      for (const property of checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(symbol))) {
        if (property.getDocumentationComment(checker).length === 0) undocumented.push(`${symbol.name}.${property.name}`);
      }
    }
    expect(undocumented).toEqual([]);
  });
});
