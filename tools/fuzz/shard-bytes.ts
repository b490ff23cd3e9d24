// Taking a safetensors file apart into header JSON and data section, and putting one together from
// (possibly broken) header text, with the length prefix optionally lying.

export interface ShardParts {
  header: Record<string, unknown>;
  data: Uint8Array;
}

export function splitShard(file: Uint8Array): ShardParts {
  const n = Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + n))) as Record<string, unknown>;
  return { header, data: file.subarray(8 + n) };
}

/** Prefix + header text + data; `declared` overrides the prefix (a u64, so up to 2^64 - 1). */
export function joinShard(headerText: string, data: Uint8Array, declared?: bigint): Uint8Array {
  const header = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + header.length + data.length);
  new DataView(out.buffer).setBigUint64(0, declared ?? BigInt(header.length), true);
  out.set(header, 8);
  out.set(data, 8 + header.length);
  return out;
}
