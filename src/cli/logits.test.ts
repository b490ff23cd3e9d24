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

describe('logits --backend reference', () => {
  it('writes logits and mtp_logits that match the official outputs for seq1', async () => {
    const golden = await openCheckpointDir(FIXTURE, { file: 'golden.safetensors' });
    const tokens = Array.from(await golden.readIntegers('seq1.tokens'));
    await run('logits', '--model', FIXTURE, '--tokens', tokens.join(','), '--out', join(dir, 'out.safetensors'), '--mtp');
    const out = await openCheckpointDir(dir, { file: 'out.safetensors' });
    for (const [name, rows] of [['logits', tokens.length], ['mtp_logits', tokens.length - 1]] as const) {
      expect(out.info(name).shape).toEqual([rows, 2048]);
      const got = await out.readF32(name);
      const want = await golden.readF32(`seq1.${name}`);
      for (let r = 0; r < rows; r++) {
        const g = got.subarray(r * 2048, (r + 1) * 2048);
        const w = want.subarray(r * 2048, (r + 1) * 2048);
        expect(relL2(g, w)).toBeLessThanOrEqual(1e-5); // the golden tolerance (src/reference/golden.test.ts)
        expect(argmax(g)).toBe(argmax(w));
      }
    }
    await out.close();
    await golden.close();
  });

  it('refuses a token id outside the vocabulary, naming it, and writes nothing', async () => {
    const target = join(dir, 'bad.safetensors');
    await expect(run('logits', '--model', FIXTURE, '--tokens', '5,2048', '--out', target)).rejects.toThrow(InputError);
    await expect(run('logits', '--model', FIXTURE, '--tokens', '5,2048', '--out', target)).rejects.toThrow(/token id 2048 at index 1/);
    await expect(run('logits', '--model', FIXTURE, '--tokens', '5,x', '--out', target)).rejects.toThrow(/--tokens: entry 1/);
    expect(readdirSync(dir).filter((f) => f.startsWith('bad'))).toEqual([]);
  });

  it('names a missing model folder', async () => {
    await expect(run('logits', '--model', join(dir, 'nope'), '--tokens', '5', '--out', join(dir, 'x.safetensors'))).rejects.toThrow(CheckpointError);
  });
});
