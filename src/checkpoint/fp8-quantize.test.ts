import { describe, expect, it } from 'vitest';
import { e4m3ToF32 } from './decode.ts';
import { dequantFp8Block } from './fp8-blocks.ts';
import { f32ToE4m3, quantizeFp8Blocks } from './fp8-quantize.ts';
import { openCheckpointDir } from './sources/node-file.ts';

describe('f32ToE4m3', () => {
  it('maps every finite e4m3 value to its own code', () => {
    for (let code = 0; code < 256; code++) {
      if ((code & 0x7f) === 0x7f) continue; // NaN
      const back = f32ToE4m3(e4m3ToF32(code));
      expect(back, `code 0x${code.toString(16)}`).toBe(code);
    }
  });

  it('rounds to nearest with ties to the even code and saturates at 448', () => {
    expect(f32ToE4m3(1.0625)).toBe(0x38); // halfway 1 (0x38, even) and 1.125 (0x39)
    expect(f32ToE4m3(1.1875)).toBe(0x3a); // halfway 1.125 (0x39) and 1.25 (0x3a, even)
    expect(f32ToE4m3(1.07)).toBe(0x39);
    expect(f32ToE4m3(2 ** -10)).toBe(0x00); // halfway 0 and the smallest subnormal 2^-9: even is 0
    expect(f32ToE4m3(1000)).toBe(0x7e);
    expect(f32ToE4m3(-1000)).toBe(0xfe);
  });
});

describe('quantizeFp8Blocks', () => {
  it("re-quantizing tiny-v3's dequantized weights gives back its codes and scales exactly", async () => {
    const ckpt = await openCheckpointDir('kernels-test/fixtures/tiny-v3');
    for (const name of ['model.layers.0.self_attn.kv_a_proj_with_mqa.weight', 'model.layers.1.mlp.experts.3.down_proj.weight']) {
      const [rows, cols] = ckpt.info(name).shape;
      const codes = await ckpt.read(name);
      const scale = await ckpt.readF32(`${name}_scale_inv`);
      const w = dequantFp8Block(codes, rows, cols, scale, 128, 128, name);
      const q = quantizeFp8Blocks(w, rows, cols);
      expect(Array.from(q.scaleInv)).toEqual(Array.from(scale));
      // +0 and -0 both decode to zero; compare values, and codes everywhere else
      const differ = Array.from(q.codes).filter((c, i) => c !== codes[i] && !(e4m3ToF32(c) === 0 && e4m3ToF32(codes[i]) === 0));
      expect(differ).toEqual([]);
    }
    await ckpt.close();
  });

  it('handles partial edge blocks and all-zero blocks', () => {
    const rows = 3;
    const cols = 5;
    const w = Float32Array.from({ length: 15 }, (_, i) => (i < 10 ? 0 : i - 12));
    const q = quantizeFp8Blocks(w, rows, cols, 2, 4);
    expect(q.scaleInv.length).toBe(2 * 2);
    const back = dequantFp8Block(q.codes, rows, cols, q.scaleInv, 2, 4);
    expect(Array.from(back)).toEqual(Array.from(w)); // -2..2 in a block with amax 2: exact
  });
});
