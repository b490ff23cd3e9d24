import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../errors.ts';
import { writeFileAtomically } from './output-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'dsw-out-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('writeFileAtomically', () => {
  it('replaces the file whole', async () => {
    const target = join(dir, 'a.bin');
    writeFileSync(target, 'old');
    await writeFileAtomically(target, new TextEncoder().encode('new'));
    expect(readFileSync(target, 'utf8')).toBe('new');
    expect(readdirSync(dir)).toEqual(['a.bin']);
  });

  it('a failure names --out and leaves no temporary file', async () => {
    // The rename onto a non-empty folder fails after the bytes were written to the temporary file.
    const target = join(dir, 'busy');
    mkdirSync(target);
    writeFileSync(join(target, 'inside'), 'x');
    const err = await writeFileAtomically(target, new Uint8Array(8)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).argument).toBe('--out');
    expect(readdirSync(dir).sort()).toEqual(['a.bin', 'busy']);
  });
});
