// Cheap arguments are checked before anything expensive happens. Each case pairs a bad argument with a model
// folder that does not exist: if loading came first, the error would be about the folder instead.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../cli.ts';
import { InputError } from '../errors.ts';

const NO_MODEL = ['--model', 'no/such/model-folder'];
const dir = mkdtempSync(join(tmpdir(), 'dsw-fail-fast-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (...args: string[]) => buildProgram().exitOverride().parseAsync(['node', 'deepseek-webgpu', ...args]);

/** The InputError `args` fail with; fails the test when they fail otherwise or not at all. */
async function inputError(...args: string[]): Promise<InputError> {
  const err = await run(...args).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, args.join(' ')).toBeInstanceOf(InputError);
  return err as InputError;
}

describe('generate checks its arguments before loading', () => {
  it.each([
    ['--tokens', ['--tokens', '5,x'], /--tokens: entry 1 \('x'\)/],
    ['--tokens', ['--tokens', '5,-2'], /--tokens: entry 1 \('-2'\)/],
    ['--tokens', ['--tokens', '5,,6'], /--tokens: expected comma-separated token ids/],
    ['--max-new-tokens', ['--tokens', '5', '--max-new-tokens', 'ten'], /--max-new-tokens: expected an integer/],
    ['--context-length', ['--tokens', '5', '--context-length', '0'], /--context-length: expected an integer >= 1/],
    ['--temperature', ['--tokens', '5', '--temperature', '-1'], /--temperature: must be >= 0/],
    ['--temperature', ['--tokens', '5', '--temperature', 'hot'], /--temperature: expected a number/],
    ['--top-k', ['--tokens', '5', '--top-k', '1.5'], /--top-k: expected an integer/],
    ['--top-p', ['--tokens', '5', '--top-p', '0'], /--top-p: must be in \(0, 1\]/],
    ['--top-p', ['--tokens', '5', '--top-p', '1.5'], /--top-p: must be in \(0, 1\]/],
    ['--min-p', ['--tokens', '5', '--min-p', '1'], /--min-p: must be in \[0, 1\)/],
    ['--repetition-penalty', ['--tokens', '5', '--repetition-penalty', '0'], /--repetition-penalty: must be > 0/],
    ['--seed', ['--tokens', '5', '--seed', '4294967296'], /--seed: must be an integer in \[0, 2\^32\)/],
    ['--draft-tokens', ['--tokens', '5', '--draft-tokens', '0'], /--draft-tokens: expected an integer >= 1/],
    ['--draft-tokens', ['--tokens', '5', '--draft-tokens', '64'], /--draft-tokens: at most 63/],
    ['--tokens', ['hello', '--tokens', '5'], /--tokens: give either token ids or a text prompt/],
    ['--system', ['hello', '--system', 'be brief'], /--system: needs --chat/],
    // The short forms are the same options, named by their long names.
    ['--max-new-tokens', ['--tokens', '5', '-n', 'ten'], /--max-new-tokens: expected an integer/],
    ['--context-length', ['--tokens', '5', '-c', '0'], /--context-length: expected an integer >= 1/],
    ['--seed', ['--tokens', '5', '-s', 'x'], /--seed: expected an integer/],
    ['--temp', ['--tokens', '5', '--temp', '-1'], /--temp: must be >= 0/],
    ['--temp', ['--tokens', '5', '--temp', '1', '--temperature', '1'], /--temp: is another name for --temperature/],
    ['--prompt', ['hello', '-p', 'hello'], /--prompt: give the prompt as the argument or with --prompt, not both/],
  ])('%s: %j', async (argument, args, message) => {
    const e = await inputError('generate', ...NO_MODEL, '--quiet', ...args);
    expect(e.argument).toBe(argument);
    expect(e.message).toMatch(message);
  });

  it("--model '' says what is wrong", async () => {
    const e = await inputError('generate', '--model', '', '--tokens', '5');
    expect(e.argument).toBe('--model');
    expect((await inputError('generate', '-m', '', '--tokens', '5')).argument).toBe('--model');
    expect(e.message).toMatch(/--model: is empty/);
  });

  it('--context-length beyond max_position_embeddings is refused once config.json is read, before the weights', async () => {
    // config.json alone: opening the weights would fail, so the refusal must come before they are touched.
    const configOnly = join(dir, 'config-only');
    mkdirSync(configOnly);
    copyFileSync('kernels-test/fixtures/tiny-v3/config.json', join(configOnly, 'config.json'));
    const e = await inputError('generate', '--model', configOnly, '--tokens', '5', '--context-length', '257', '--quiet');
    expect(e.argument).toBe('--context-length');
    expect(e.message).toMatch(/257 is more than this model's max_position_embeddings \(256\)/);
  });
});

describe('logits checks --out before loading', () => {
  const file = join(dir, 'a-file');
  writeFileSync(file, 'x');

  it.each([
    ['a folder that does not exist', join(dir, 'missing', 'out.safetensors'), /--out: the folder .*missing does not exist/],
    ['a parent that is a file (ENOTDIR)', join(file, 'out.safetensors'), /--out: .*a-file is not a folder/],
    ['an existing folder', dir, /--out: .* is a folder/],
    ['an empty path', '', /--out: is empty/],
  ])('%s', async (_what, out, message) => {
    for (const backend of ['webgpu', 'reference']) {
      const e = await inputError('logits', ...NO_MODEL, '--tokens', '5', '--out', out, '--backend', backend, '--quiet');
      expect(e.message).toMatch(message);
    }
  });

  it('a bad --tokens comes before a bad --out', async () => {
    const e = await inputError('logits', ...NO_MODEL, '--tokens', 'x', '--out', join(dir, 'missing', 'o'));
    expect(e.argument).toBe('--tokens');
  });

  it('leaves no temporary file behind', () => {
    expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
  });
});

describe('perplexity checks its arguments before loading', () => {
  const text = join(dir, 'text.txt');
  writeFileSync(text, 'In the beginning');

  it.each([
    ['--file', ['--file', join(dir, 'missing.txt')], /--file: .*missing\.txt does not exist/],
    ['--file', ['--file', dir], /--file: .* is a folder/],
    ['--file', ['--file', ''], /--file: is empty/],
    ['--window', ['--file', text, '--window', '0'], /--window: expected an integer >= 1/],
    ['--window', ['--file', text, '--window', '2.5'], /--window: expected an integer >= 1/],
    ['--max-windows', ['--file', text, '--max-windows', '0'], /--max-windows: expected an integer >= 1/],
    ['--window', ['--file', text, '--window', '8', '--context-length', '8'], /--window: 8 predictions need windows of 9 positions; --context-length is 8/],
  ])('%s: %j', async (argument, args, message) => {
    const e = await inputError('perplexity', ...NO_MODEL, '--quiet', ...args);
    expect(e.argument).toBe(argument);
    expect(e.message).toMatch(message);
  });

  it('refuses a file that is not UTF-8', async () => {
    const binary = join(dir, 'binary.bin');
    writeFileSync(binary, Uint8Array.from([0x41, 0xff, 0xfe]));
    expect((await inputError('perplexity', ...NO_MODEL, '--file', binary)).message).toMatch(/is not UTF-8 text/);
  });

  it('--window, --mtp and the tokenizer are checked against config.json, before the weights', async () => {
    // config.json alone: opening the weights would fail, so each refusal must come before they are touched.
    const configOnly = (fixture: string) => {
      const folder = join(dir, `config-only-${fixture}`);
      mkdirSync(folder, { recursive: true });
      copyFileSync(`kernels-test/fixtures/${fixture}/config.json`, join(folder, 'config.json'));
      return folder;
    };
    const v3 = configOnly('tiny-v3'); // max_position_embeddings 256
    const v2 = configOnly('tiny-v2lite'); // no MTP module
    expect((await inputError('perplexity', '--model', v3, '--file', text)).message).toMatch(/--window: 256 predictions need windows of 257 positions; the model's max_position_embeddings is 256/);
    expect((await inputError('perplexity', '--model', v2, '--file', text, '--window', '8', '--mtp')).argument).toBe('--mtp');
    expect((await inputError('perplexity', '--model', v3, '--file', text, '--window', '8', '--mtp')).message).toMatch(/--model: .* has no tokenizer \(tokenizer\.json or tiktoken\.model\)/);
  });
});

describe('verify and info', () => {
  it('verify checks --tokens before reading the model', async () => {
    expect((await inputError('verify', ...NO_MODEL, '--tokens', '1,b')).argument).toBe('--tokens');
  });

  it('info checks --context-length before reading the model', async () => {
    expect((await inputError('info', ...NO_MODEL, '--context-length', 'x')).argument).toBe('--context-length');
  });

  it('tune checks --kernel and its counts before reading the model', async () => {
    expect((await inputError('tune', ...NO_MODEL, '--kernel', 'matmul,nope')).message).toMatch(/--kernel: no tunable kernel 'nope'; the kernels are rmsnorm, /);
    expect((await inputError('tune', ...NO_MODEL, '--reps', '0')).argument).toBe('--reps');
  });
});

describe('the installed command', () => {
  it('exits 1 with one line naming the argument, without loading anything', async () => {
    const failed = await promisify(execFile)('node', ['bin/deepseek-webgpu.js', 'generate', ...NO_MODEL, '--tokens', '1,-2']).then(
      () => null,
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toBe("deepseek-webgpu: InputError: --tokens: entry 1 ('-2') is not a token id (a non-negative integer)\n");
    expect(failed?.stdout).toBe('');
  });
});
