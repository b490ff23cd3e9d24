import { describe, expect, it } from 'vitest';
import { decodeIntegers, decodeToF32, e4m3ToF32 } from './decode.ts';
import { DTYPES, bytesPerElement, isDType } from './dtypes.ts';
import { expectCheckpointError, u16Bytes } from './test-files.ts';

/** Value of a float with `eBits` exponent and `mBits` mantissa bits, IEEE-style (inf/NaN at max exponent). */
function ieee(code: number, eBits: number, mBits: number): number {
  const sign = code >> (eBits + mBits) ? -1 : 1;
  const e = (code >> mBits) & ((1 << eBits) - 1);
  const m = code & ((1 << mBits) - 1);
  const bias = (1 << (eBits - 1)) - 1;
  if (e === (1 << eBits) - 1) return m ? NaN : sign * Infinity;
  if (e === 0) return sign * m * 2 ** (1 - bias - mBits);
  return sign * (1 + m / 2 ** mBits) * 2 ** (e - bias);
}

const bitsOf = (x: Float32Array) => [...new Uint32Array(x.buffer, x.byteOffset, x.length)];

/** The same bytes at byteOffset 1 of a larger buffer, so no typed-array view over them is aligned. */
function unaligned(bytes: Uint8Array): Uint8Array {
  const big = new Uint8Array(bytes.length + 1);
  big.set(bytes, 1);
  return big.subarray(1);
}

describe('dtypes', () => {
  it('lists the supported dtypes with their widths', () => {
    expect(DTYPES.map((d) => [d, bytesPerElement(d)])).toEqual([
      ['F32', 4], ['F16', 2], ['BF16', 2], ['F8_E4M3', 1], ['F8_E5M2', 1], ['I32', 4], ['I64', 8], ['U8', 1],
    ]);
    expect(isDType('BF16')).toBe(true);
    expect(isDType('F64')).toBe(false);
    expect(isDType('toString')).toBe(false);
    expect(isDType(4)).toBe(false);
  });
});

describe('decodeToF32', () => {
  it('F32 keeps every bit, NaN payloads and -0 included, from an unaligned buffer', () => {
    const bits = new Uint32Array([0x3f800000, 0x80000000, 0x7fc00001, 0xff800000, 0x00000001, 0x7f7fffff]);
    const out = decodeToF32(unaligned(new Uint8Array(bits.buffer)), 'F32');
    expect(bitsOf(out)).toEqual([...bits]);
  });

  it('BF16 is the top half of an f32', () => {
    const codes = [0x3f80, 0xc020, 0x7f80, 0xff80, 0x7fc1, 0x0001, 0x8000, 0x7f7f];
    const out = decodeToF32(unaligned(u16Bytes(codes)), 'BF16');
    expect(bitsOf(out)).toEqual(codes.map((c) => c << 16 >>> 0));
    expect(out[1]).toBe(-2.5);
  });

  it('F16: all 65536 codes, including subnormals, ±inf, NaN and -0', () => {
    const codes = Array.from({ length: 65536 }, (_, i) => i);
    const out = decodeToF32(unaligned(u16Bytes(codes)), 'F16');
    for (const c of codes) {
      const want = ieee(c, 5, 10);
      if (Number.isNaN(want)) expect(Number.isNaN(out[c]), `code ${c}`).toBe(true);
      else if (!Object.is(out[c], want)) expect(out[c], `code 0x${c.toString(16)}`).toBe(want);
    }
    expect([out[0x0001], out[0x03ff], out[0x0400], out[0x7bff]]).toEqual([2 ** -24, 1023 * 2 ** -24, 2 ** -14, 65504]);
    expect([out[0x7c00], out[0xfc00]]).toEqual([Infinity, -Infinity]);
    expect(Object.is(out[0x8000], -0)).toBe(true);
    expect(bitsOf(out.subarray(0x7e01, 0x7e02))).toEqual([0x7fc02000]); // NaN payload kept
  });

  it('F8_E5M2: all 256 codes (bias 15, with inf and NaN)', () => {
    const out = decodeToF32(Uint8Array.from({ length: 256 }, (_, i) => i), 'F8_E5M2');
    for (let c = 0; c < 256; c++) {
      const want = ieee(c, 5, 2);
      if (Number.isNaN(want)) expect(Number.isNaN(out[c])).toBe(true);
      else expect(Object.is(out[c], want), `code 0x${c.toString(16)}: ${out[c]} vs ${want}`).toBe(true);
    }
    expect([out[0x3c], out[0x7b], out[0x01], out[0x7c], out[0xfc]]).toEqual([1, 57344, 2 ** -16, Infinity, -Infinity]);
  });

  it('F8_E4M3 (e4m3fn): bias 7, subnormals m/8 * 2^-6, NaN only at 0x7F/0xFF, no inf, max 448', () => {
    const out = decodeToF32(Uint8Array.from({ length: 256 }, (_, i) => i), 'F8_E4M3');
    const nan = [...out.keys()].filter((c) => Number.isNaN(out[c]));
    expect(nan).toEqual([0x7f, 0xff]);
    expect(out.some((v) => !Number.isFinite(v) && !Number.isNaN(v))).toBe(false);
    expect([out[0x00], out[0x01], out[0x07], out[0x08], out[0x38], out[0x78], out[0x7e], out[0xfe]]).toEqual([
      0, 2 ** -9, 7 * 2 ** -9, 2 ** -6, 1, 256, 448, -448,
    ]);
    expect(Object.is(out[0x80], -0)).toBe(true);
    for (let c = 1; c < 0x7f; c++) {
      expect(out[c]).toBeGreaterThan(out[c - 1]); // codes are ordered like sign-magnitude integers
      expect(out[c | 0x80]).toBe(-out[c]);
    }
    for (let c = 0; c < 256; c++) if (c !== 0x7f && c !== 0xff) expect(e4m3ToF32(c)).toBe(out[c]);
  });

  it('integer dtypes become numbers', () => {
    const i32 = new Int32Array([-7, 0, 2 ** 31 - 1, -(2 ** 31)]);
    expect([...decodeToF32(unaligned(new Uint8Array(i32.buffer)), 'I32')]).toEqual([-7, 0, 2 ** 31, -(2 ** 31)]);
    expect([...decodeToF32(new Uint8Array([0, 1, 255]), 'U8')]).toEqual([0, 1, 255]);
    const i64 = new BigInt64Array([-3n, 5n, 2n ** 40n]);
    expect([...decodeToF32(unaligned(new Uint8Array(i64.buffer)), 'I64')]).toEqual([-3, 5, 2 ** 40]);
  });

  it('rejects a byte count that is not a whole number of elements, naming file and tensor', async () => {
    await expectCheckpointError(() => decodeToF32(new Uint8Array(3), 'BF16', { file: 'a.safetensors', tensor: 't' }), {
      file: 'a.safetensors',
      tensor: 't',
      detail: /3 bytes is not a whole number of BF16/,
    });
  });
});

describe('decodeIntegers', () => {
  it('is exact for I32, U8 and I64 up to ±(2^53 - 1)', () => {
    const i64 = new BigInt64Array([2n ** 53n - 1n, -(2n ** 53n) + 1n, -1n, 0n, 4294967296n, -4294967297n]);
    expect([...decodeIntegers(unaligned(new Uint8Array(i64.buffer)), 'I64')]).toEqual([
      2 ** 53 - 1, -(2 ** 53) + 1, -1, 0, 4294967296, -4294967297,
    ]);
    const i32 = new Int32Array([2 ** 31 - 1, -5]);
    expect([...decodeIntegers(new Uint8Array(i32.buffer), 'I32')]).toEqual([2 ** 31 - 1, -5]);
    expect([...decodeIntegers(new Uint8Array([9]), 'U8')]).toEqual([9]);
  });

  it('throws for I64 beyond 2^53, naming file, tensor and element', async () => {
    for (const v of [2n ** 53n, -(2n ** 53n), 2n ** 63n - 1n, -(2n ** 63n)]) {
      const bytes = new Uint8Array(new BigInt64Array([0n, v]).buffer);
      await expectCheckpointError(() => decodeToF32(bytes, 'I64', { file: 'f', tensor: 'ids' }), {
        file: 'f',
        tensor: 'ids',
        detail: /element 1 .*2\^53/,
      });
    }
  });

  it('refuses float dtypes', async () => {
    await expectCheckpointError(() => decodeIntegers(new Uint8Array(4), 'F32', { file: 'f', tensor: 'x' }), { file: 'f', tensor: 'x' });
  });
});
