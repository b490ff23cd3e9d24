import { describe, expect, it } from 'vitest';
import { MAX_HEADER_LENGTH, parseSafetensorsHeader, readHeaderLength } from './safetensors.ts';
import { buildSafetensors, expectCheckpointError, headerOf, rawSafetensors, type FileTensor } from './test-files.ts';

const FILE = 'dir/model.safetensors';
const f32 = (name: string, n: number): FileTensor => ({ name, dtype: 'F32', shape: [n], bytes: new Uint8Array(4 * n) });

/** Parse a whole in-memory file the way a reader would: length prefix, then header. */
function parse(file: Uint8Array, size = file.length) {
  readHeaderLength(file.subarray(0, 8), FILE, size);
  return parseSafetensorsHeader(headerOf(file), size, FILE);
}

describe('parseSafetensorsHeader', () => {
  it('reads metadata, dtypes, shapes and absolute offsets', () => {
    const file = buildSafetensors(
      [f32('a', 3), { name: 'b', dtype: 'BF16', shape: [2, 2], bytes: new Uint8Array(8) }, f32('empty', 0)],
      { metadata: { format: 'pt', note: 'x' } },
    );
    const h = parse(file);
    const n = headerOf(file).length;
    expect(h.headerLength).toBe(n);
    expect(h.dataStart).toBe(8 + n);
    expect(h.metadata).toEqual({ format: 'pt', note: 'x' });
    expect([...h.tensors.keys()]).toEqual(['a', 'b', 'empty']);
    expect(h.tensors.get('a')).toEqual({ name: 'a', dtype: 'F32', shape: [3], file: FILE, begin: 8 + n, end: 8 + n + 12 });
    expect(h.tensors.get('b')).toMatchObject({ dtype: 'BF16', shape: [2, 2], begin: 8 + n + 12, end: 8 + n + 20 });
    expect(h.tensors.get('empty')).toMatchObject({ shape: [0], begin: 8 + n + 20, end: 8 + n + 20 });
  });

  it('accepts a header without __metadata__, gaps between tensors, and empty tensors sharing an offset', () => {
    const file = buildSafetensors([f32('a', 1), f32('z', 0), f32('b', 1)], {
      edit: (h) => {
        delete h.__metadata__;
        (h.b as { data_offsets: number[] }).data_offsets = [8, 12]; // 4-byte gap after 'a'
        (h.z as { data_offsets: number[] }).data_offsets = [0, 0];
      },
    });
    const h = parse(new Uint8Array([...file, 0, 0, 0, 0]));
    expect(h.metadata).toEqual({});
    expect(h.tensors.get('b')!.begin - h.tensors.get('a')!.begin).toBe(8);
  });
});

describe('readHeaderLength', () => {
  it('returns N from the little-endian u64', () => {
    expect(readHeaderLength(rawSafetensors('{}'), FILE)).toBe(2);
    expect(readHeaderLength(rawSafetensors('{}').subarray(0, 8), FILE, 10)).toBe(2);
  });

  it('rejects a file shorter than 8 bytes', async () => {
    await expectCheckpointError(() => readHeaderLength(new Uint8Array(5), FILE), { file: FILE, detail: /5 bytes/ });
    await expectCheckpointError(() => readHeaderLength(new Uint8Array(8), FILE, 7), { file: FILE, detail: /7 bytes/ });
  });

  it('rejects a header length past EOF or absurdly large', async () => {
    const file = rawSafetensors('{}', new Uint8Array(), 100n);
    await expectCheckpointError(() => readHeaderLength(file, FILE, file.length), { file: FILE, detail: /past the end.*10 bytes/ });
    const huge = rawSafetensors('{}', new Uint8Array(), BigInt(MAX_HEADER_LENGTH) + 1n);
    await expectCheckpointError(() => readHeaderLength(huge, FILE, 1e12), { file: FILE, detail: /absurd/ });
    const u64max = rawSafetensors('{}', new Uint8Array(), 2n ** 64n - 1n);
    await expectCheckpointError(() => readHeaderLength(u64max, FILE), { file: FILE, detail: /18446744073709551615/ });
  });
});

describe('parseSafetensorsHeader errors name the file and tensor', () => {
  const bad = (edit: (h: Record<string, unknown>) => void) => buildSafetensors([f32('w', 2)], { edit });
  const entry = (h: Record<string, unknown>) => h.w as Record<string, unknown>;

  it('header bytes claimed past EOF', async () => {
    await expectCheckpointError(() => parseSafetensorsHeader(new Uint8Array(20), 16, FILE), { file: FILE, detail: /past the end/ });
  });

  it('malformed JSON, bad UTF-8, non-object header', async () => {
    for (const text of ['{"w": ', '', '[1, 2]', 'null']) {
      await expectCheckpointError(() => parse(rawSafetensors(text)), { file: FILE, detail: /JSON/ });
    }
    await expectCheckpointError(() => parse(rawSafetensors(new Uint8Array([0x7b, 0xff, 0x7d]))), { file: FILE, detail: /UTF-8/ });
  });

  it('__metadata__ that is not a str -> str map', async () => {
    await expectCheckpointError(() => parse(bad((h) => (h.__metadata__ = [1]))), { file: FILE, detail: /__metadata__/ });
    await expectCheckpointError(() => parse(bad((h) => (h.__metadata__ = { n: 1 }))), { file: FILE, detail: /__metadata__.n/ });
  });

  it('non-object entries', async () => {
    for (const value of [5, 'F32', null, [1]]) {
      await expectCheckpointError(() => parse(bad((h) => (h.w = value))), { file: FILE, tensor: 'w', detail: /not an object/ });
    }
  });

  it('unknown dtype, listing the supported ones', async () => {
    const e = await expectCheckpointError(() => parse(bad((h) => (entry(h).dtype = 'F64'))), { file: FILE, tensor: 'w' });
    expect(e.message).toMatch(/unknown dtype "F64"; supported: F32, F16, BF16, F8_E4M3, F8_E5M2, I32, I64, U8/);
  });

  it('shape not an array of non-negative integers', async () => {
    for (const shape of [2, [-2], [2.5], ['2'], null, [2 ** 53]]) {
      await expectCheckpointError(() => parse(bad((h) => (entry(h).shape = shape))), { file: FILE, tensor: 'w', detail: /shape/ });
    }
  });

  it('malformed data_offsets', async () => {
    for (const offsets of [undefined, [0], [0, 8, 16], [8, 0], [-1, 7], ['0', '8'], [0.5, 8], { 0: 0, 1: 8 }]) {
      await expectCheckpointError(() => parse(bad((h) => (entry(h).data_offsets = offsets))), {
        file: FILE,
        tensor: 'w',
        detail: /data_offsets/,
      });
    }
  });

  it('data past EOF (truncated file), saying how many bytes it has and needs', async () => {
    const file = buildSafetensors([f32('a', 2), f32('w', 4)]);
    const cut = file.subarray(0, file.length - 3);
    const e = await expectCheckpointError(() => parse(cut), { file: FILE, tensor: 'w', detail: /truncated/ });
    expect(e.message).toContain(`ends at byte ${file.length} but the file has only ${cut.length} bytes`);
  });

  it('overlapping tensors, naming both', async () => {
    const file = buildSafetensors([f32('a', 2), f32('b', 2)], {
      edit: (h) => ((h.b as { data_offsets: number[] }).data_offsets = [4, 12]),
    });
    const e = await expectCheckpointError(() => parse(file), { file: FILE, tensor: 'b', detail: /overlap/ });
    expect(e.message).toContain("'a'");
  });

  it('shape and byte span that disagree', async () => {
    const e = await expectCheckpointError(() => parse(bad((h) => (entry(h).shape = [3]))), { file: FILE, tensor: 'w' });
    expect(e.message).toContain('shape [3] of F32 needs 12 bytes, data_offsets span 8');
    await expectCheckpointError(() => parse(bad((h) => (entry(h).dtype = 'I64'))), { file: FILE, tensor: 'w', detail: /needs 16/ });
  });
});
