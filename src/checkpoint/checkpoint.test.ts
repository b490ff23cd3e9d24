import { truncate } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FolderSource } from './byte-source.ts';
import { openCheckpoint, type Checkpoint } from './checkpoint.ts';
import { INDEX_FILE } from './shard-index.ts';
import { nodeFolder, openCheckpointDir, openNodeFile } from './sources/node-file.ts';
import { buildSafetensors, concat, expectCheckpointError, makeTempDir, u16Bytes, type FileTensor, type TempDir } from './test-files.ts';

let tmp: TempDir;
const opened: Checkpoint[] = [];
beforeEach(async () => {
  tmp = await makeTempDir();
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close()));
  await tmp.remove();
});

async function open(options = {}): Promise<Checkpoint> {
  const ckpt = await openCheckpointDir(tmp.dir, options);
  opened.push(ckpt);
  return ckpt;
}

const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const f32Tensor = (name: string, values: number[]): FileTensor => ({
  name,
  dtype: 'F32',
  shape: [values.length],
  bytes: bytesOf(new Float32Array(values)),
});
const shard = (i: number) => `model-0000${i}-of-00002.safetensors`;

/** One tensor of every dtype, with the f32 values its bytes decode to. */
const EVERY_DTYPE: { tensor: FileTensor; f32: number[] }[] = [
  { tensor: { name: 'f32', dtype: 'F32', shape: [2, 2], bytes: bytesOf(new Float32Array([1.5, -0, 3e38, -(2 ** -149)])) }, f32: [1.5, -0, Math.fround(3e38), -(2 ** -149)] },
  { tensor: { name: 'f16', dtype: 'F16', shape: [3], bytes: u16Bytes([0x3c00, 0x0001, 0xfc00]) }, f32: [1, 2 ** -24, -Infinity] },
  { tensor: { name: 'bf16', dtype: 'BF16', shape: [1, 2], bytes: u16Bytes([0x3f80, 0xc020]) }, f32: [1, -2.5] },
  { tensor: { name: 'e4m3', dtype: 'F8_E4M3', shape: [4], bytes: new Uint8Array([0x38, 0x7e, 0x01, 0xff]) }, f32: [1, 448, 2 ** -9, NaN] },
  { tensor: { name: 'e5m2', dtype: 'F8_E5M2', shape: [3], bytes: new Uint8Array([0x3c, 0x7c, 0x01]) }, f32: [1, Infinity, 2 ** -16] },
  { tensor: { name: 'i32', dtype: 'I32', shape: [2], bytes: bytesOf(new Int32Array([-7, 123456])) }, f32: [-7, 123456] },
  { tensor: { name: 'i64', dtype: 'I64', shape: [2], bytes: bytesOf(new BigInt64Array([-3n, 2n ** 40n])) }, f32: [-3, 2 ** 40] },
  { tensor: { name: 'u8', dtype: 'U8', shape: [3], bytes: new Uint8Array([0, 128, 255]) }, f32: [0, 128, 255] },
  { tensor: { name: 'empty', dtype: 'BF16', shape: [0, 4], bytes: new Uint8Array(0) }, f32: [] },
];

describe('openCheckpoint on a single model.safetensors', () => {
  it('round-trips every dtype: raw bytes, f32 values, exact integers', async () => {
    await tmp.write('model.safetensors', buildSafetensors(EVERY_DTYPE.map((c) => c.tensor)));
    const ckpt = await open();
    expect(ckpt.names()).toEqual(EVERY_DTYPE.map((c) => c.tensor.name));
    for (const { tensor, f32 } of EVERY_DTYPE) {
      const info = ckpt.info(tensor.name);
      expect(info).toMatchObject({ dtype: tensor.dtype, shape: tensor.shape, file: tmp.path('model.safetensors') });
      expect(info.end - info.begin).toBe(tensor.bytes.length);
      expect(await ckpt.read(tensor.name)).toEqual(tensor.bytes);
      const got = await ckpt.readF32(tensor.name);
      expect(got).toBeInstanceOf(Float32Array);
      expect([...got]).toEqual(f32); // toEqual tells -0 from 0 and matches NaN with NaN
    }
    expect([...(await ckpt.readIntegers('i64'))]).toEqual([-3, 2 ** 40]);
    await expectCheckpointError(() => ckpt.readIntegers('bf16'), { file: tmp.path('model.safetensors'), tensor: 'bf16' });
  });

  it('reads byte sub-ranges within a tensor and validates them', async () => {
    const values = Array.from({ length: 10 }, (_, i) => i + 0.5);
    await tmp.write('model.safetensors', buildSafetensors([f32Tensor('a', [9]), f32Tensor('w', values)]));
    const ckpt = await open();
    const whole = await ckpt.read('w');
    expect(await ckpt.read('w', 4, 12)).toEqual(whole.subarray(4, 12));
    expect(await ckpt.read('w', 36)).toEqual(whole.subarray(36));
    expect(await ckpt.read('w', 40, 40)).toEqual(new Uint8Array(0));
    // Streaming in pieces reassembles the tensor.
    const pieces = [await ckpt.read('w', 0, 16), await ckpt.read('w', 16, 32), await ckpt.read('w', 32, 40)];
    expect(new Float32Array(concat(pieces).buffer)).toEqual(new Float32Array(values));
    for (const [b, e] of [[-1, 4], [0, 41], [8, 4], [1.5, 4], [41, undefined]] as const) {
      await expectCheckpointError(() => ckpt.read('w', b, e), { file: tmp.path('model.safetensors'), tensor: 'w', detail: /40 bytes/ });
    }
  });

  it('opens any one file by name (e.g. golden.safetensors), ignoring the index', async () => {
    await tmp.write(INDEX_FILE, 'not even JSON');
    await tmp.write('golden.safetensors', buildSafetensors([f32Tensor('logits', [1, 2])]));
    const ckpt = await open({ file: 'golden.safetensors' });
    expect([...(await ckpt.readF32('logits'))]).toEqual([1, 2]);
  });

  it('names the folder and the tensor for an unknown name', async () => {
    await tmp.write('model.safetensors', buildSafetensors([f32Tensor('a', [1])]));
    const ckpt = await open();
    expect(ckpt.has('a')).toBe(true);
    expect(ckpt.has('nope')).toBe(false);
    await expectCheckpointError(() => ckpt.info('nope'), { file: tmp.dir, tensor: 'nope', detail: /no such tensor/ });
    await expectCheckpointError(() => ckpt.read('nope'), { file: tmp.dir, tensor: 'nope' });
  });

  it('refuses reads after close; close twice is fine', async () => {
    await tmp.write('model.safetensors', buildSafetensors([f32Tensor('a', [1])]));
    const ckpt = await open();
    await ckpt.close();
    await ckpt.close();
    await expectCheckpointError(() => ckpt.read('a'), { file: tmp.dir, tensor: 'a', detail: /closed/ });
  });
});

describe('openCheckpoint on a sharded folder', () => {
  async function writeSharded(weightMap: Record<string, string>) {
    await tmp.write(shard(1), buildSafetensors([f32Tensor('a', [1, 2]), f32Tensor('b', [3])]));
    await tmp.write(shard(2), buildSafetensors([f32Tensor('c', [4, 5, 6]), f32Tensor('extra', [7])]));
    await tmp.write(INDEX_FILE, JSON.stringify({ metadata: { total_size: 24 }, weight_map: weightMap }));
  }

  it('places each tensor in the shard the index names; the index decides the tensor set', async () => {
    await writeSharded({ c: shard(2), a: shard(1), b: shard(1) });
    const ckpt = await open();
    expect(ckpt.names()).toEqual(['c', 'a', 'b']);
    expect(ckpt.has('extra')).toBe(false);
    expect(ckpt.info('a').file).toBe(tmp.path(shard(1)));
    expect(ckpt.info('c').file).toBe(tmp.path(shard(2)));
    expect([...(await ckpt.readF32('b'))]).toEqual([3]);
    expect([...(await ckpt.readF32('c'))]).toEqual([4, 5, 6]);
  });

  it('names the tensor and the shard when the index places a tensor where it is not', async () => {
    await writeSharded({ a: shard(1), c: shard(1) });
    const e = await expectCheckpointError(() => open(), { file: tmp.path(shard(1)), tensor: 'c', detail: /header lacks it/ });
    expect(e.message).toContain(INDEX_FILE);
  });

  it('names the path of a shard the index lists but the folder lacks', async () => {
    await writeSharded({ a: shard(1), z: 'model-00003-of-00002.safetensors' });
    await expectCheckpointError(() => open(), { file: tmp.path('model-00003-of-00002.safetensors'), detail: /no such file/ });
  });

  it('checks that every listed shard exists before opening any: 10,000 missing shards fail at the first', async () => {
    const weightMap = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`t${i}`, `s${i}.safetensors`]));
    await tmp.write(INDEX_FILE, JSON.stringify({ weight_map: weightMap }));
    const disk = nodeFolder(tmp.dir);
    const calls = { exists: 0, open: 0 };
    const counting: FolderSource = {
      name: disk.name,
      readText: (f) => disk.readText(f),
      exists: (f) => (calls.exists++, disk.exists(f)),
      open: (f) => (calls.open++, disk.open(f)),
    };
    const started = performance.now();
    await expectCheckpointError(() => openCheckpoint(counting), { file: tmp.path('s0.safetensors'), detail: /no such file.*listed in model.safetensors.index.json/ });
    expect(calls.open).toBe(0);
    expect(calls.exists).toBeLessThan(20);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('names the index file when it is malformed', async () => {
    await tmp.write(INDEX_FILE, '{"weight_map": {"a": 1}}');
    await expectCheckpointError(() => open(), { file: INDEX_FILE, tensor: 'a' });
  });
});

describe('broken folders and files', () => {
  it('a folder without index or model.safetensors, and a missing folder', async () => {
    await expectCheckpointError(() => open(), { file: tmp.dir, detail: /neither model.safetensors.index.json nor model.safetensors/ });
    const gone = tmp.path('does-not-exist');
    await expectCheckpointError(() => openCheckpointDir(gone), { file: gone, detail: /folder does not exist/ });
    await expectCheckpointError(() => nodeFolder(gone).open('model.safetensors'), { file: gone });
  });

  it('a shard whose header is broken is named with its path', async () => {
    await tmp.write('model.safetensors', new Uint8Array(5));
    await expectCheckpointError(() => open(), { file: tmp.path('model.safetensors'), detail: /5 bytes, shorter than/ });
    const cut = buildSafetensors([f32Tensor('a', [1]), f32Tensor('w', [1, 2, 3])]);
    await tmp.write('model.safetensors', cut.subarray(0, cut.length - 1));
    await expectCheckpointError(() => open(), { file: tmp.path('model.safetensors'), tensor: 'w', detail: /truncated/ });
  });

  it('a file truncated after opening fails the read with "truncated"', async () => {
    await tmp.write('model.safetensors', buildSafetensors([f32Tensor('a', [1]), f32Tensor('w', [1, 2, 3])]));
    const ckpt = await open();
    await truncate(tmp.path('model.safetensors'), ckpt.info('w').begin + 2);
    await expectCheckpointError(() => ckpt.read('w'), { file: tmp.path('model.safetensors'), detail: /truncated/ });
  });

  it('node sources reject directories and out-of-range reads', async () => {
    await expectCheckpointError(() => openNodeFile(tmp.dir), { file: tmp.dir, detail: /not a regular file/ });
    const path = await tmp.write('x.bin', new Uint8Array([1, 2, 3]));
    const source = await openNodeFile(path);
    try {
      expect(source.size).toBe(3);
      expect(await source.read(1, 2)).toEqual(new Uint8Array([2, 3]));
      await expectCheckpointError(() => source.read(2, 2), { file: path, detail: /outside/ });
    } finally {
      await source.close?.();
    }
    expect(await nodeFolder(tmp.dir).exists('x.bin')).toBe(true);
    expect(await nodeFolder(tmp.dir).exists('y.bin')).toBe(false);
    await expectCheckpointError(() => nodeFolder(tmp.dir).readText('y.json'), { file: tmp.path('y.json'), detail: /no such file/ });
  });
});
