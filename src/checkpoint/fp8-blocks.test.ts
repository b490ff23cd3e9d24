import { describe, expect, it } from 'vitest';
import { e4m3ToF32 } from './decode.ts';
import { dequantFp8Block } from './fp8-blocks.ts';
import { expectCheckpointError } from './test-files.ts';

describe('dequantFp8Block', () => {
  it('scales each block by its own scale_inv, with partial blocks at the right and bottom edges', () => {
    // [5, 7] in 2x3 blocks -> scale [3, 3]; the last block row has 1 row, the last block column 1 column.
    const rows = 5;
    const cols = 7;
    const codes = Uint8Array.from({ length: rows * cols }, (_, k) => (k * 37 + 11) % 256);
    const scale = Float32Array.from({ length: 9 }, (_, k) => Math.fround(0.001 * (k + 1) + 1 / 3));
    const w = dequantFp8Block(codes, rows, cols, scale, 2, 3);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        const s = scale[Math.floor(i / 2) * 3 + Math.floor(j / 3)];
        const want = new Float32Array([e4m3ToF32(codes[i * cols + j]) * s])[0];
        expect(Object.is(w[i * cols + j], want), `[${i}, ${j}]`).toBe(true);
      }
    }
    // The corner element lives in the last (1x1) block.
    expect(w[rows * cols - 1]).toBe(Math.fround(e4m3ToF32(codes[rows * cols - 1]) * scale[8]));
  });

  it('keeps NaN codes NaN and handles empty matrices', () => {
    const w = dequantFp8Block(new Uint8Array([0x7f, 0x38]), 1, 2, new Float32Array([2]), 128, 128);
    expect(Number.isNaN(w[0])).toBe(true);
    expect(w[1]).toBe(2);
    expect(dequantFp8Block(new Uint8Array(0), 0, 4, new Float32Array(0), 128, 128)).toHaveLength(0);
  });

  it('rejects a scale_inv whose size is not [ceil(rows/br), ceil(cols/bc)], naming the tensor', async () => {
    const e = await expectCheckpointError(
      () => dequantFp8Block(new Uint8Array(144 * 256), 144, 256, new Float32Array(2), 128, 128, 'w.weight', 'shard.safetensors'),
      { file: 'shard.safetensors', tensor: 'w.weight' },
    );
    expect(e.message).toContain('needs [2, 2] = 4');
  });

  it('rejects code counts and block sizes that do not fit', async () => {
    await expectCheckpointError(() => dequantFp8Block(new Uint8Array(5), 2, 3, new Float32Array(1), 128, 128, 'w'), {
      file: 'fp8 block dequant',
      tensor: 'w',
      detail: /5 codes/,
    });
    await expectCheckpointError(() => dequantFp8Block(new Uint8Array(6), 2, 3, new Float32Array(1), 0, 128, 'w'), {
      file: 'fp8 block dequant',
      tensor: 'w',
      detail: /blockRows/,
    });
  });
});
