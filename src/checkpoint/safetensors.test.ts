import { describe, expect, it } from 'vitest';
import { MAX_HEADER_LENGTH, MAX_HEADER_TENSORS, parseSafetensorsHeader, readHeaderLength } from './safetensors.ts';
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

  it('accepts a header without __metadata__, tensors in any header order, and empty tensors at a boundary', () => {
    const file = buildSafetensors([f32('a', 1), f32('z', 0), f32('b', 1)], {
      edit: (h) => {
        delete h.__metadata__;
        (h.a as { data_offsets: number[] }).data_offsets = [4, 8];
        (h.b as { data_offsets: number[] }).data_offsets = [0, 4];
        (h.z as { data_offsets: number[] }).data_offsets = [0, 0];
      },
    });
    const h = parse(file);
    expect(h.metadata).toEqual({});
    expect(h.tensors.get('a')!.begin - h.tensors.get('b')!.begin).toBe(4);
  });
});

describe('the data section is tiled exactly, as the safetensors library requires', () => {
  const two = () => buildSafetensors([f32('a', 2), f32('b', 3)]);

  it('a header length a few bytes short or long (padding spaces) is refused, not a shift of every tensor', async () => {
    const file = buildSafetensors([f32('a', 2), f32('b', 3)], { edit: () => undefined });
    const header = headerOf(file);
    const data = file.subarray(8 + header.length);
    const text = new TextDecoder().decode(header);
    for (const delta of [-3, -1, 1, 3]) {
      // Same JSON, padded so it still parses when the declared length is off by `delta`.
      const padded = `${text}${' '.repeat(8)}`;
      const declared = BigInt(text.length + 4 + delta);
      const shifted = rawSafetensors(padded.slice(0, text.length + 4), data, declared);
      await expectCheckpointError(() => parse(shifted), { file: FILE, detail: delta < 0 ? /3 trailing bytes|1 trailing byte/ : /not valid JSON/ });
    }
  });

  it('a gap before, between or after the tensors is refused, naming the tensor after it', async () => {
    const gapBetween = buildSafetensors([f32('a', 1), f32('b', 1)], { edit: (h) => ((h.b as { data_offsets: number[] }).data_offsets = [8, 12]) });
    await expectCheckpointError(() => parse(new Uint8Array([...gapBetween, 0, 0, 0, 0])), { file: FILE, tensor: 'b', detail: /gap of 4 bytes/ });
    const gapFirst = buildSafetensors([f32('a', 1)], { edit: (h) => ((h.a as { data_offsets: number[] }).data_offsets = [4, 8]) });
    await expectCheckpointError(() => parse(new Uint8Array([...gapFirst, 0, 0, 0, 0])), { file: FILE, tensor: 'a', detail: /gap of 4 bytes/ });
    await expectCheckpointError(() => parse(new Uint8Array([...two(), 7])), { file: FILE, detail: /1 trailing byte/ });
  });

  it('the header must be a JSON object text starting with {', async () => {
    await expectCheckpointError(() => parse(rawSafetensors(' {}')), { file: FILE, detail: /must start with '\{'/ });
    await expectCheckpointError(() => parse(rawSafetensors('[]')), { file: FILE, detail: /must start with '\{'/ });
  });

  it('header size is bounded by the tensors it describes, and tensors per file by MAX_HEADER_TENSORS', async () => {
    const bloated = buildSafetensors([f32('a', 1)], { metadata: { pad: 'x'.repeat(70_000) } });
    await expectCheckpointError(() => parse(bloated), { file: FILE, detail: /header of \d+ bytes for 1 tensors/ });
    const many = `{${Array.from({ length: MAX_HEADER_TENSORS + 1 }, (_, i) => `"t${i}":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}`).join(',')}}`;
    await expectCheckpointError(() => parse(rawSafetensors(many)), { file: FILE, detail: /100001 tensors; at most 100000/ });
  });

  it('JSON nested deeper than 64 levels is refused before parsing', async () => {
    const deep = `{"__metadata__": {"a": ${'['.repeat(50_000)}${']'.repeat(50_000)}}}`;
    await expectCheckpointError(() => parse(rawSafetensors(deep)), { file: FILE, detail: /nested deeper than 64/ });
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
    expect(e.message).toMatch(/unknown dtype 'F64'; supported: F32, F16, BF16, F8_E4M3, F8_E5M2, I32, I64, U8/);
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
