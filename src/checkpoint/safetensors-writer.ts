// Encodes tensors as one safetensors file (how `logits --out` writes its results). Pure, browser-safe:
// the caller writes the bytes. Header padded with spaces to 8 bytes, as the safetensors library does.
// Any dtype can be written from its raw little-endian bytes (the fuzzer builds FP8 and BF16 checkpoints).
import { bytesPerElement, type DType } from './dtypes.ts';

export interface OutputTensor {
  name: string;
  dtype: DType;
  shape: number[];
  /** The elements in `dtype`'s little-endian layout: an F32 or I32 typed array, or raw bytes of any dtype. */
  data: ArrayBufferView;
}

export function encodeSafetensors(tensors: OutputTensor[], metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * bytesPerElement(t.dtype);
    if (bytes !== t.data.byteLength) throw new Error(`tensor '${t.name}': shape [${t.shape}] of ${t.dtype} takes ${bytes} bytes, data has ${t.data.byteLength}`);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  const raw = new TextEncoder().encode(JSON.stringify(header));
  const headerBytes = new Uint8Array(raw.length + ((8 - (raw.length % 8)) % 8)).fill(0x20); // pad with spaces
  headerBytes.set(raw);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const t of tensors) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}
