// The safetensors element types this engine reads, with their widths. Safetensors defines more (F64, I8,
// BOOL, ...); DeepSeek checkpoints use none of them, so a header naming one is rejected with this list.

export type DType = 'F32' | 'F16' | 'BF16' | 'F8_E4M3' | 'F8_E5M2' | 'I32' | 'I64' | 'U8';

const BYTES: Readonly<Record<DType, number>> = Object.freeze({
  F32: 4,
  F16: 2,
  BF16: 2,
  F8_E4M3: 1, // e4m3fn: no infinities, NaN at 0x7F/0xFF (DeepSeek V3 weights)
  F8_E5M2: 1,
  I32: 4,
  I64: 8,
  U8: 1,
});

/** Every supported dtype, in the order error messages list them. */
export const DTYPES: readonly DType[] = Object.freeze(Object.keys(BYTES) as DType[]);

export function isDType(value: unknown): value is DType {
  return typeof value === 'string' && Object.hasOwn(BYTES, value);
}

export function bytesPerElement(dtype: DType): number {
  return BYTES[dtype];
}

/** Float dtypes decode to f32 exactly; integer dtypes are exact only up to 2^24 once in a Float32Array. */
export function isIntegerDType(dtype: DType): boolean {
  return dtype === 'I32' || dtype === 'I64' || dtype === 'U8';
}
