// Test support (imported by *.test.ts only): builds safetensors bytes, including broken ones, and writes them
// to a throwaway folder under os.tmpdir().
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { CheckpointError } from '../errors.ts';

export interface FileTensor {
  name: string;
  /** Not checked: tests pass bad dtypes and shapes on purpose. */
  dtype: string;
  shape: unknown;
  bytes: Uint8Array;
  /** Overrides the data_offsets the builder would write (the data is still laid out back to back). */
  offsets?: unknown;
}

/** A safetensors file: tensors laid out back to back in the given order; `edit` may rewrite the header. */
export function buildSafetensors(
  tensors: FileTensor[],
  options: { metadata?: unknown; edit?: (header: Record<string, unknown>) => void } = {},
): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: options.metadata ?? { format: 'pt' } };
  let at = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: t.offsets ?? [at, at + t.bytes.length] };
    at += t.bytes.length;
  }
  options.edit?.(header);
  return rawSafetensors(JSON.stringify(header), concat(tensors.map((t) => t.bytes)));
}

/** Length prefix + header text + data, with the prefix overridable to lie about the header length. */
export function rawSafetensors(headerText: string | Uint8Array, data: Uint8Array = new Uint8Array(), declaredLength?: bigint): Uint8Array {
  const header = typeof headerText === 'string' ? new TextEncoder().encode(headerText) : headerText;
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, declaredLength ?? BigInt(header.length), true);
  return concat([prefix, header, data]);
}

/** Header JSON bytes of a built file (what parseSafetensorsHeader takes). */
export function headerOf(file: Uint8Array): Uint8Array {
  const n = Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true));
  return file.subarray(8, 8 + n);
}

/** The same file with its header JSON rewritten by `edit` (the data section unchanged). */
export function rewriteHeader(file: Uint8Array, edit: (header: Record<string, Record<string, unknown>>) => void): Uint8Array {
  const header = headerOf(file);
  const json = JSON.parse(new TextDecoder().decode(header));
  edit(json);
  return rawSafetensors(JSON.stringify(json), file.subarray(8 + header.length));
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Little-endian bytes of 16-bit patterns (BF16, F16 codes). */
export function u16Bytes(patterns: number[]): Uint8Array {
  const view = new DataView(new ArrayBuffer(patterns.length * 2));
  patterns.forEach((p, i) => view.setUint16(2 * i, p, true));
  return new Uint8Array(view.buffer);
}

export interface TempDir {
  dir: string;
  path(name: string): string;
  write(name: string, content: Uint8Array | string): Promise<string>;
  remove(): Promise<void>;
}

export async function makeTempDir(): Promise<TempDir> {
  const dir = await mkdtemp(join(tmpdir(), 'ckpt-test-'));
  return {
    dir,
    path: (name) => join(dir, name),
    write: async (name, content) => {
      await writeFile(join(dir, name), content);
      return join(dir, name);
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Asserts a CheckpointError whose message names `file` and, when given, `tensor` (and matches `detail`). */
export async function expectCheckpointError(
  run: () => unknown,
  expected: { file: string; tensor?: string; detail?: RegExp },
): Promise<CheckpointError> {
  let error: unknown;
  try {
    await run();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(CheckpointError);
  const e = error as CheckpointError;
  expect(e.file).toBe(expected.file);
  expect(e.message).toContain(expected.file);
  if (expected.tensor !== undefined) {
    expect(e.tensor).toBe(expected.tensor);
    expect(e.message).toContain(`'${expected.tensor}'`);
  }
  if (expected.detail) expect(e.message).toMatch(expected.detail);
  return e;
}
