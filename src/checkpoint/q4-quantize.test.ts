import { describe, expect, it } from 'vitest';
import { dequantQ4, q4Groups, q4Words, quantizeQ4 } from './q4-quantize.ts';

/** Deterministic pseudo-random values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 31) - 1);
}

const nibble = (codes: Uint32Array, words: number, r: number, c: number) => (codes[r * words + (c >> 3)] >>> (4 * (c & 7))) & 0xf;

describe('q4 quantizer (docs/q4.md)', () => {
  it('packs 8 codes per word along the row, nibble n = column 8w + n, code = q + 8', () => {
    // One row, group 8: the largest magnitude (-4) maps to -8, so the scale is 0.5 and w / 0.5 is exact.
    const row = [-4, -3.5, 0, 0.5, 1, 2, 3, 3.5, /* second word, group of its own */ 1, -1, 0, 0, 0, 0, 0, 0.25];
    const q = quantizeQ4(row, 1, 16, 8);
    expect(Array.from(q.scale)).toEqual([0.5, -0.125]); // -1 / -8: the extreme maps to -8 whatever its sign
    expect(Array.from({ length: 8 }, (_, c) => nibble(q.codes, 2, 0, c))).toEqual([0, 1, 8, 9, 10, 12, 14, 15]);
    expect(nibble(q.codes, 2, 0, 8)).toBe(0); // 1 / -0.125 = -8
    expect(nibble(q.codes, 2, 0, 9)).toBe(15); // -1 / -0.125 = 8, clamped to 7
  });

  it('rounds to the nearest code, ties away from zero, and clamps at 7', () => {
    // scale 1 (the -8 sets it); 2.5 -> 3, -2.5 -> -3, 7.6 -> 7 (clamped from 8)
    const q = quantizeQ4([-8, 2.5, -2.5, 7.6, 0.49, -0.5, 0, 0], 1, 8, 8);
    expect(Array.from(dequantQ4(q, 1, 8, 8))).toEqual([-8, 3, -3, 7, 0, -1, 0, 0]);
  });

  it('keeps scale 0 and zeros for an all-zero group; pads partial words with code 8 (zero)', () => {
    const q = quantizeQ4(new Float32Array(2 * 13), 2, 13, 8);
    expect(Array.from(q.scale)).toEqual([0, 0, 0, 0]);
    expect(Array.from(q.codes)).toEqual([0x88888888, 0x88888888, 0x88888888, 0x88888888]);
    const r = quantizeQ4(values(13, 1), 1, 13, 8);
    expect(r.codes[1] >>> 20).toBe(0x888); // columns 13..15 of the second word
  });

  it('partial groups: error at most half a step per weight (one step at the +7 clamp)', () => {
    for (const [rows, cols, group] of [[3, 13, 8], [5, 130, 32], [2, 257, 64], [4, 96, 64]]) {
      const w = values(rows * cols, rows + cols);
      const q = quantizeQ4(w, rows, cols, group);
      expect([q.codes.length, q.scale.length]).toEqual([rows * q4Words(cols), rows * q4Groups(cols, group)]);
      const d = dequantQ4(q, rows, cols, group);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          const s = Math.abs(q.scale[r * q4Groups(cols, group) + Math.floor(c / group)]);
          // Half a step, or the clamp at +7 (a value at +8 steps loses one step).
          expect(Math.abs(d[r * cols + c] - w[r * cols + c])).toBeLessThanOrEqual(s * 1.0000001);
        }
      }
    }
  });

  it('re-quantizing dequantized weights gives the same codes and scales (the saved form is stable)', () => {
    const w = values(6 * 100, 9);
    const q = quantizeQ4(w, 6, 100, 32);
    const again = quantizeQ4(dequantQ4(q, 6, 100, 32), 6, 100, 32);
    expect(Array.from(again.codes)).toEqual(Array.from(q.codes));
    expect(Array.from(again.scale)).toEqual(Array.from(q.scale));
  });

  it('refuses a group that is not a positive multiple of 8, and codes or scales of the wrong size', () => {
    expect(() => quantizeQ4(values(16, 1), 1, 16, 12)).toThrow(/group 12/);
    const q = quantizeQ4(values(16, 1), 1, 16, 8);
    expect(() => dequantQ4(q, 2, 16, 8, 'w')).toThrow(/code words/);
    expect(() => dequantQ4(q, 1, 16, 16, 'w')).toThrow(/scales/);
  });
});
