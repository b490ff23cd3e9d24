// Safetensors header parsing. Pure and browser-safe: callers fetch the bytes (see byte-source.ts).
// File layout:   [u64 LE N] [N bytes UTF-8 JSON header] [data ...]
// Header JSON:   { "__metadata__": { str: str }, "<tensor>": { dtype, shape, data_offsets: [begin, end] } }
// data_offsets are relative to the first data byte (8 + N); TensorInfo stores absolute file offsets so a
// reader can go straight to the bytes.
import { CheckpointError, excerpt } from '../errors.ts';
import { parseJsonText } from '../json-text.ts';
import { DTYPES, bytesPerElement, isDType, type DType } from './dtypes.ts';

/** One tensor's place in one file. `begin`/`end` are absolute byte offsets in `file`, end exclusive. */
export interface TensorInfo {
  name: string;
  dtype: DType;
  shape: number[];
  file: string;
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** N, the JSON byte count after the 8-byte length prefix. */
  headerLength: number;
  /** 8 + N: where data_offsets count from. */
  dataStart: number;
  metadata: Record<string, string>;
  tensors: Map<string, TensorInfo>;
}

/** The safetensors library refuses headers above 100 MB; a larger N means a corrupt or foreign file. */
export const MAX_HEADER_LENGTH = 100_000_000;

/** DeepSeek-V3's largest shard holds ~1,000 tensors; the whole model ~92,000. */
export const MAX_HEADER_TENSORS = 100_000;

/**
 * A header may take 64 KiB (metadata, padding) plus 4 KiB per tensor: a real entry is ~150 bytes, so only a
 * header padded or stuffed to make the reader parse megabytes for nothing exceeds it.
 */
export const HEADER_BASE_BYTES = 64 * 1024;
export const HEADER_BYTES_PER_TENSOR = 4 * 1024;

/**
 * N from the first 8 bytes of a file. With `fileSize`, also checks that the header fits in the file, so the
 * caller can read exactly `N` more bytes.
 */
export function readHeaderLength(first8: Uint8Array, fileName = 'safetensors file', fileSize = Infinity): number {
  if (first8.length < 8 || fileSize < 8) {
    const size = Math.min(first8.length, fileSize);
    throw new CheckpointError(fileName, `file is ${size} bytes, shorter than the 8-byte header length`);
  }
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_LENGTH)) {
    throw new CheckpointError(fileName, `header length ${n} is absurd (limit ${MAX_HEADER_LENGTH}); not a safetensors file?`);
  }
  const length = Number(n);
  if (8 + length > fileSize) {
    throw new CheckpointError(fileName, `header length ${length} runs past the end of the file (${fileSize} bytes)`);
  }
  return length;
}

/** Parse the N JSON bytes that follow the length prefix, validating every entry against `fileSize`. */
export function parseSafetensorsHeader(headerBytes: Uint8Array, fileSize: number, fileName: string): SafetensorsHeader {
  const headerLength = headerBytes.length;
  const dataStart = 8 + headerLength;
  if (dataStart > fileSize) {
    throw new CheckpointError(fileName, `header length ${headerLength} runs past the end of the file (${fileSize} bytes)`);
  }
  const json = parseJson(headerBytes, fileName);
  const metadata = parseMetadata(json.__metadata__, fileName);
  const entries = Object.entries(json).filter(([name]) => name !== '__metadata__');
  if (entries.length > MAX_HEADER_TENSORS) {
    throw new CheckpointError(fileName, `header lists ${entries.length} tensors; at most ${MAX_HEADER_TENSORS} are accepted`);
  }
  const allowed = HEADER_BASE_BYTES + HEADER_BYTES_PER_TENSOR * entries.length;
  if (headerLength > allowed) {
    throw new CheckpointError(fileName, `header of ${headerLength} bytes for ${entries.length} tensors is larger than such a header can need (${allowed} bytes)`);
  }
  const tensors = new Map<string, TensorInfo>();
  for (const [name, entry] of entries) tensors.set(name, parseEntry(name, entry, dataStart, fileSize, fileName));
  checkTiling([...tensors.values()], dataStart, fileSize, fileName);
  return { headerLength, dataStart, metadata, tensors };
}

function parseJson(bytes: Uint8Array, fileName: string): Record<string, unknown> {
  // As the safetensors library: the header is object text from its first byte (padding may only follow).
  if (bytes[0] !== 0x7b) throw new CheckpointError(fileName, "header must start with '{' (a JSON object)");
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (e) {
    throw new CheckpointError(fileName, `header is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  const value = parseJsonText(text, (detail) => {
    throw new CheckpointError(fileName, `header is ${detail}`);
  });
  if (!isObject(value)) throw new CheckpointError(fileName, 'header JSON is not an object');
  return value;
}

function parseMetadata(value: unknown, fileName: string): Record<string, string> {
  if (value === undefined) return {};
  if (!isObject(value)) throw new CheckpointError(fileName, '__metadata__ is not an object');
  for (const [key, v] of Object.entries(value)) {
    // The safetensors library reads metadata as str -> str and fails otherwise; so do we.
    if (typeof v !== 'string') throw new CheckpointError(fileName, `__metadata__.${excerpt(key).slice(1, -1)} is not a string`);
  }
  return Object.freeze({ ...(value as Record<string, string>) });
}

function parseEntry(name: string, entry: unknown, dataStart: number, fileSize: number, fileName: string): TensorInfo {
  const fail = (detail: string) => new CheckpointError(fileName, detail, name);
  if (!isObject(entry)) throw fail('header entry is not an object');
  const { dtype, shape, data_offsets: offsets } = entry;
  if (!isDType(dtype)) throw fail(`unknown dtype ${excerpt(dtype)}; supported: ${DTYPES.join(', ')}`);
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw fail(`shape ${excerpt(shape)} is not an array of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
    throw fail(`data_offsets ${excerpt(offsets)} is not [begin, end] with 0 <= begin <= end`);
  }
  const begin = dataStart + offsets[0];
  const end = dataStart + offsets[1];
  if (end > fileSize) {
    throw fail(`data ends at byte ${end} but the file has only ${fileSize} bytes (truncated by ${end - fileSize})`);
  }
  const elements = shape.reduce((a: number, b: number) => a * b, 1);
  const expected = elements * bytesPerElement(dtype);
  if (end - begin !== expected) {
    throw fail(`shape ${excerpt(shape)} of ${dtype} needs ${expected} bytes, data_offsets span ${end - begin}`);
  }
  return Object.freeze({ name, dtype, shape: Object.freeze([...shape]) as number[], file: fileName, begin, end });
}

/**
 * As the safetensors library validates: sorted by offsets, each tensor starts where the previous one ended
 * (the first at the data section's start) and the last ends at the end of the file. So a header length off
 * by a few bytes, which would move every tensor, shows up as a gap or as trailing bytes, never as a shift.
 */
function checkTiling(tensors: TensorInfo[], dataStart: number, fileSize: number, fileName: string): void {
  const sorted = tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = dataStart;
  let previous: TensorInfo | undefined;
  for (const t of sorted) {
    if (t.begin < at) {
      throw new CheckpointError(
        fileName,
        `bytes [${t.begin}, ${t.end}) overlap tensor ${excerpt(previous!.name)} at [${previous!.begin}, ${previous!.end})`,
        t.name,
      );
    }
    if (t.begin > at) {
      const after = previous ? `tensor ${excerpt(previous.name)}` : 'the start of the data section';
      throw new CheckpointError(fileName, `a gap of ${t.begin - at} bytes lies between ${after} (byte ${at}) and this tensor (byte ${t.begin}); tensors must tile the data section`, t.name);
    }
    at = t.end;
    previous = t;
  }
  if (at !== fileSize) {
    const extra = fileSize - at;
    throw new CheckpointError(fileName, `${extra} trailing byte${extra === 1 ? '' : 's'} after the data section's last tensor (byte ${at} of ${fileSize}); the header length or data_offsets are wrong`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
