// Exact decoding of little-endian tensor bytes to numbers (CPU side: the reference model, tests, tools; the
// GPU path uploads raw bytes). Every float dtype here widens to f32 without rounding.
//
// Inputs are read byte by byte, so any byteOffset works and host endianness does not matter. Outputs are
// written as f32 bit patterns through a Uint32Array over the result's own buffer: both views use the host
// order, so the bits land intact (NaN payloads included) on any host.
import { CheckpointError } from '../errors.ts';
import { bytesPerElement, isIntegerDType, type DType } from './dtypes.ts';

/** Names the bytes in errors. */
export interface DecodeSite {
  file: string;
  tensor?: string;
}

const NOWHERE: DecodeSite = { file: 'tensor bytes' };

/** Float32 values of `bytes` read as `dtype`. Integers convert to the nearest f32 (exact below 2^24). */
export function decodeToF32(bytes: Uint8Array, dtype: DType, where: DecodeSite = NOWHERE): Float32Array {
  const n = elementCount(bytes, dtype, where);
  const out = new Float32Array(n);
  const bits = new Uint32Array(out.buffer);
  const b = bytes;
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) bits[i] = u32(b, 4 * i);
      break;
    case 'BF16': // the top half of an f32
      for (let i = 0; i < n; i++) bits[i] = (b[2 * i] | (b[2 * i + 1] << 8)) << 16;
      break;
    case 'F16':
      for (let i = 0; i < n; i++) bits[i] = f16ToF32Bits(b[2 * i] | (b[2 * i + 1] << 8));
      break;
    case 'F8_E5M2': // the top byte of an f16: same exponent field and bias
      for (let i = 0; i < n; i++) bits[i] = f16ToF32Bits(b[i] << 8);
      break;
    case 'F8_E4M3':
      for (let i = 0; i < n; i++) out[i] = E4M3[b[i]];
      break;
    default:
      out.set(decodeIntegers(bytes, dtype, where));
  }
  return out;
}

/** Exact values of an integer tensor (I32, I64, U8). I64 beyond ±(2^53 - 1) throws. */
export function decodeIntegers(bytes: Uint8Array, dtype: DType, where: DecodeSite = NOWHERE): Float64Array {
  if (!isIntegerDType(dtype)) throw new CheckpointError(where.file, `${dtype} is not an integer dtype`, where.tensor);
  const n = elementCount(bytes, dtype, where);
  const out = new Float64Array(n);
  const b = bytes;
  if (dtype === 'U8') out.set(b);
  if (dtype === 'I32') for (let i = 0; i < n; i++) out[i] = u32(b, 4 * i) | 0;
  if (dtype === 'I64') {
    for (let i = 0; i < n; i++) {
      const lo = u32(b, 8 * i);
      const hi = u32(b, 8 * i + 4) | 0; // signed high word
      const value = hi * 2 ** 32 + lo; // exact whenever |hi| < 2^21, i.e. whenever it can be safe
      if (Math.abs(hi) > 2 ** 21 || !Number.isSafeInteger(value)) {
        throw new CheckpointError(where.file, `I64 element ${i} does not fit a float64 exactly (beyond 2^53)`, where.tensor);
      }
      out[i] = value;
    }
  }
  return out;
}

/** The value of one F8_E4M3 (e4m3fn) code. */
export function e4m3ToF32(code: number): number {
  return E4M3[code & 0xff];
}

// e4m3fn: 1 sign, 4 exponent (bias 7), 3 mantissa bits. No infinities; S.1111.111 is NaN, so the largest
// finite magnitude is 1.75 * 2^8 = 448. Exponent 0 is subnormal: m/8 * 2^-6. Built once, never written.
const E4M3 = buildE4M3Table();

function buildE4M3Table(): Float32Array {
  const table = new Float32Array(256);
  for (let code = 0; code < 256; code++) {
    const sign = code & 0x80 ? -1 : 1;
    const e = (code >> 3) & 0xf;
    const m = code & 0x7;
    if (e === 15 && m === 7) table[code] = NaN;
    else if (e === 0) table[code] = sign * m * 2 ** -9;
    else table[code] = sign * (8 + m) * 2 ** (e - 10);
  }
  return table;
}

/** f16 bits -> f32 bits: rebias normals, renormalize subnormals, keep inf/NaN (and NaN payload). */
function f16ToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 31) return sign | 0x7f800000 | (m << 13);
  if (e !== 0) return sign | ((e - 15 + 127) << 23) | (m << 13);
  if (m === 0) return sign;
  // Subnormal m * 2^-24: shift the leading 1 up to bit 10 and lower the exponent by the shift.
  let shift = 0;
  let mm = m;
  while ((mm & 0x400) === 0) {
    mm <<= 1;
    shift++;
  }
  return sign | ((127 - 15 + 1 - shift) << 23) | ((mm & 0x3ff) << 13);
}

function u32(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}

function elementCount(bytes: Uint8Array, dtype: DType, where: DecodeSite): number {
  const size = bytesPerElement(dtype);
  if (bytes.length % size !== 0) {
    throw new CheckpointError(where.file, `${bytes.length} bytes is not a whole number of ${dtype} elements`, where.tensor);
  }
  return bytes.length / size;
}
