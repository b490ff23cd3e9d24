import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { argmax, relL2 } from '../../kernels-test/helpers/compare.ts';
import { openCheckpointDir } from '../checkpoint/sources/node-file.ts';
import { CheckpointError, InputError } from '../errors.ts';
import { buildProgram } from '../cli.ts';

const FIXTURE = 'kernels-test/fixtures/tiny-v3';
const dir = mkdtempSync(join(tmpdir(), 'dsw-logits-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (...args: string[]) => buildProgram().exitOverride().parseAsync(['node', 'deepseek-webgpu', ...args]);

describe.each([
  ['reference', ['--mtp']],
  ['webgpu', ['--mtp']],
  ['webgpu', []],
])('logits --backend %s', (backend, extra) => {
  it('writes outputs that match the official ones for seq1', async () => {
    const golden = await openCheckpointDir(FIXTURE, { file: 'golden.safetensors' });
    const tokens = Array.from(await golden.readIntegers('seq1.tokens'));
    const file = `out-${backend}.safetensors`;
    await run('logits', '--model', FIXTURE, '--tokens', tokens.join(','), '--out', join(dir, file), '--backend', backend, '--quiet', ...extra);
    const out = await openCheckpointDir(dir, { file });
    const names = extra.length ? (['logits', 'mtp_logits'] as const) : (['logits'] as const);
    for (const name of names) {
      const rows = name === 'logits' ? tokens.length : tokens.length - 1;
      expect(out.info(name).shape).toEqual([rows, 2048]);
      // the golden tolerance (src/reference/golden.test.ts): 10x the float32 noise of the official code
      const got = await out.readF32(name);
      const want = await golden.readF32(`seq1.${name}`);
      for (let r = 0; r < rows; r++) {
        const g = got.subarray(r * 2048, (r + 1) * 2048);
        const w = want.subarray(r * 2048, (r + 1) * 2048);
        expect(relL2(g, w)).toBeLessThanOrEqual(1e-5);
        expect(argmax(g)).toBe(argmax(w));
      }
    }
    await out.close();
    await golden.close();
  });
});

describe('logits: bad input', () => {
  it('refuses a token id outside the vocabulary, naming it, and writes nothing', async () => {
    const target = join(dir, 'bad.safetensors');
    for (const backend of ['reference', 'webgpu']) {
      await expect(run('logits', '--model', FIXTURE, '--tokens', '5,2048', '--out', target, '--backend', backend)).rejects.toThrow(InputError);
      await expect(run('logits', '--model', FIXTURE, '--tokens', '5,2048', '--out', target, '--backend', backend)).rejects.toThrow(/token id 2048 at index 1/);
    }
    await expect(run('logits', '--model', FIXTURE, '--tokens', '5,x', '--out', target)).rejects.toThrow(/--tokens: entry 1/);
    expect(readdirSync(dir).filter((f) => f.startsWith('bad'))).toEqual([]);
  });

  it('names a missing model folder', async () => {
    await expect(run('logits', '--model', join(dir, 'nope'), '--tokens', '5', '--out', join(dir, 'x.safetensors'))).rejects.toThrow(CheckpointError);
  });
});
