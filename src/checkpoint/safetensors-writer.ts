// Encodes tensors as one safetensors file (how `logits --out` writes its results). Pure, browser-safe:
// the caller writes the bytes. Header padded with spaces to 8 bytes, as the safetensors library does.

export interface OutputTensor {
  name: string;
  dtype: 'F32' | 'I32';
  shape: number[];
  data: Float32Array | Int32Array;
}

export function encodeSafetensors(tensors: OutputTensor[], metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new Error(`tensor '${t.name}': shape [${t.shape}] holds ${count} values, data has ${t.data.length}`);
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
