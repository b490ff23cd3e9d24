// The vendored tiny checkpoints (read-only) and the FP8 goldens that DeepSeek's own dequantization produced.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Checkpoint } from './checkpoint.ts';
import { fp8ScaleName } from './tensor-names.ts';
import { decodeToF32 } from './decode.ts';
import { dequantFp8Block } from './fp8-blocks.ts';
import { openCheckpointDir } from './sources/node-file.ts';

const FIXTURES = 'kernels-test/fixtures';
const json = (path: string) => JSON.parse(readFileSync(path, 'utf8'));
const bits = (x: Float32Array) => new Uint32Array(x.buffer, x.byteOffset, x.length);

/** Index of the first element whose f32 bit pattern differs, or -1; prints both values when one does. */
function firstBitDifference(got: Float32Array, want: Float32Array): number {
  const g = bits(got);
  const w = bits(want);
  const i = g.findIndex((v, k) => v !== w[k]);
  if (i >= 0) console.error(`first difference at ${i}: got ${got[i]} (0x${g[i].toString(16)}), want ${want[i]} (0x${w[i].toString(16)})`);
  return i;
}

describe.each(['tiny-v3', 'tiny-v2lite'])('fixture %s', (name) => {
  const dir = `${FIXTURES}/${name}`;
  let ckpt: Checkpoint;
  beforeAll(async () => {
    ckpt = await openCheckpointDir(dir);
  });
  afterAll(() => ckpt?.close());

  it('holds exactly the tensors the index names, each in its shard', () => {
    const weightMap: Record<string, string> = json(`${dir}/model.safetensors.index.json`).weight_map;
    expect(ckpt.names().length).toBe(Object.keys(weightMap).length);
    expect(new Set(ckpt.names())).toEqual(new Set(Object.keys(weightMap)));
    for (const [tensor, file] of Object.entries(weightMap)) expect(ckpt.info(tensor).file).toBe(`${dir}/${file}`);
  });

  it('decodes every float tensor to finite values', async () => {
    const dtypes = new Set<string>();
    for (const tensor of ckpt.names()) {
      const info = ckpt.info(tensor);
      dtypes.add(info.dtype);
      if (info.dtype === 'F8_E4M3') continue; // raw codes; checked through the dequant goldens below
      const values = await ckpt.readF32(tensor);
      expect(values.length).toBe(info.shape.reduce((a, b) => a * b, 1));
      expect(values.every(Number.isFinite), tensor).toBe(true);
    }
    expect(dtypes.has('BF16')).toBe(true);
  });
});

describe('tiny-v3 FP8 against golden.safetensors (bit-exact)', () => {
  const dir = `${FIXTURES}/tiny-v3`;
  const [blockRows, blockCols] = json(`${dir}/config.json`).quantization_config.weight_block_size;
  let ckpt: Checkpoint;
  let golden: Checkpoint;
  beforeAll(async () => {
    ckpt = await openCheckpointDir(dir);
    golden = await openCheckpointDir(dir, { file: 'golden.safetensors' });
  });
  afterAll(async () => {
    await ckpt?.close();
    await golden?.close();
  });

  it('e4m3fn table: all 256 codes, NaN exactly at 0x7F and 0xFF', async () => {
    const want = await golden.readF32('fp8.e4m3fn_table');
    const got = decodeToF32(Uint8Array.from({ length: 256 }, (_, i) => i), 'F8_E4M3');
    expect(want.length).toBe(256);
    for (let c = 0; c < 256; c++) {
      const nan = c === 0x7f || c === 0xff;
      expect(Number.isNaN(want[c]), `golden code ${c}`).toBe(nan);
      expect(Number.isNaN(got[c]), `code ${c}`).toBe(nan);
      if (!nan) expect(bits(got)[c], `code 0x${c.toString(16)}`).toBe(bits(want)[c]);
    }
  });

  it.each(['model.layers.0.self_attn.kv_a_proj_with_mqa.weight', 'model.layers.1.mlp.experts.0.down_proj.weight'])(
    'dequant %s',
    async (tensor) => {
      const info = ckpt.info(tensor);
      expect(info.dtype).toBe('F8_E4M3');
      const [rows, cols] = info.shape;
      const scale = ckpt.info(fp8ScaleName(tensor));
      expect(scale).toMatchObject({ dtype: 'F32', shape: [Math.ceil(rows / blockRows), Math.ceil(cols / blockCols)] });
      const got = dequantFp8Block(await ckpt.read(tensor), rows, cols, await ckpt.readF32(scale.name), blockRows, blockCols, tensor);
      const want = await golden.readF32(`fp8.dequant.${tensor}`);
      expect(want.length).toBe(rows * cols);
      expect(firstBitDifference(got, want)).toBe(-1);
    },
  );
});
