// A Hugging Face checkpoint folder opened for reading: every shard's header parsed and cross-checked with
// the index up front, tensor bytes read on demand. Browser-safe: all I/O goes through a FolderSource.
import { CheckpointError } from '../errors.ts';
import type { ByteSource, FolderSource } from './byte-source.ts';
import { decodeIntegers, decodeToF32 } from './decode.ts';
import { RangePrefetcher, type PrefetchOptions } from './prefetch.ts';
import { orderByFirstUse, planReadRanges, type ReadPlanOptions } from './read-plan.ts';
import { parseSafetensorsHeader, readHeaderLength, type SafetensorsHeader, type TensorInfo } from './safetensors.ts';
import { INDEX_FILE, parseShardIndex } from './shard-index.ts';

export const SINGLE_FILE = 'model.safetensors';

export interface OpenOptions {
  /** Open this one safetensors file of the folder (e.g. golden.safetensors), ignoring any index. */
  file?: string;
}

/** Read the 8-byte length and the JSON header of one safetensors file; no tensor data. */
export async function readSafetensorsHeader(source: ByteSource): Promise<SafetensorsHeader> {
  const first8 = await source.read(0, Math.min(8, source.size));
  const length = readHeaderLength(first8, source.name, source.size);
  return parseSafetensorsHeader(await source.read(8, length), source.size, source.name);
}

export type CheckpointPrefetchOptions = PrefetchOptions & ReadPlanOptions;

export class Checkpoint {
  private closed = false;
  /** Set between prefetch() and its stop(): reads inside the planned ranges are served from it. */
  private prefetcher: RangePrefetcher | undefined;

  private constructor(
    /** The folder's name, as errors show it. */
    readonly name: string,
    private readonly tensors: Map<string, TensorInfo>,
    /** Keyed by ByteSource.name, which is what TensorInfo.file holds. */
    private readonly sources: Map<string, ByteSource>,
  ) {}

  /** Opens the index (or model.safetensors, or `options.file`) and every shard's header. */
  static async open(folder: FolderSource, options: OpenOptions = {}): Promise<Checkpoint> {
    const index = options.file ? undefined : await readIndex(folder);
    const files = options.file ? [options.file] : (index?.files ?? [SINGLE_FILE]);
    if (index) await requireAll(folder, files);
    const sources = await openAll(folder, files);
    try {
      const headers = await Promise.all(sources.map(readSafetensorsHeader));
      const shards = new Map(files.map((f, i) => [f, { source: sources[i], header: headers[i] }]));
      const tensors = index ? placeByIndex(index.weightMap, shards, folder.name) : headers[0].tensors;
      return new Checkpoint(folder.name, tensors, new Map(sources.map((s) => [s.name, s])));
    } catch (e) {
      await closeAll(sources);
      throw e;
    }
  }

  /** Tensor names in index (or header) order. */
  names(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const info = this.tensors.get(name);
    if (!info) throw new CheckpointError(this.name, `no such tensor in this checkpoint (${this.tensors.size} tensors)`, name);
    return info;
  }

  /**
   * Raw bytes [byteBegin, byteEnd) of the tensor's data, so tensors larger than one GPU buffer can be
   * streamed in pieces. The defaults read the whole tensor.
   */
  async read(name: string, byteBegin = 0, byteEnd?: number): Promise<Uint8Array> {
    const info = this.info(name);
    const size = info.end - info.begin;
    const end = byteEnd ?? size;
    if (!Number.isSafeInteger(byteBegin) || !Number.isSafeInteger(end) || byteBegin < 0 || byteBegin > end || end > size) {
      throw new CheckpointError(info.file, `byte range [${byteBegin}, ${end}) is not within the tensor's ${size} bytes`, name);
    }
    if (this.closed) throw new CheckpointError(this.name, 'checkpoint is closed', name);
    const at = info.begin + byteBegin;
    const ahead = await this.prefetcher?.read(info.file, at, end - byteBegin);
    return ahead ?? this.sources.get(info.file)!.read(at, end - byteBegin);
  }

  /**
   * Starts fetching the bytes of the tensors `names` (in the order they will be read) in a few large ranges
   * (read-plan.ts), several at once and ahead of the reads (prefetch.ts), until stop() is called: one request
   * per range instead of one per tensor over HTTP. Reads stay exact: only where they fall is different.
   */
  prefetch(names: readonly string[], options: CheckpointPrefetchOptions = {}): { totalBytes: number; stop: () => void } {
    this.prefetcher?.close();
    const spans = names.map((n) => this.info(n));
    const prefetcher = new RangePrefetcher(this.sources, orderByFirstUse(planReadRanges(spans, options), spans), options);
    this.prefetcher = prefetcher;
    return {
      totalBytes: prefetcher.totalBytes,
      stop: () => {
        prefetcher.close();
        if (this.prefetcher === prefetcher) this.prefetcher = undefined;
      },
    };
  }

  /** The whole tensor as f32: floats exactly, integers rounded to f32 (exact below 2^24). */
  async readF32(name: string): Promise<Float32Array> {
    const info = this.info(name);
    return decodeToF32(await this.read(name), info.dtype, { file: info.file, tensor: name });
  }

  /** An integer tensor (I32, I64, U8) exactly, as float64 numbers. */
  async readIntegers(name: string): Promise<Float64Array> {
    const info = this.info(name);
    return decodeIntegers(await this.read(name), info.dtype, { file: info.file, tensor: name });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.prefetcher?.close();
    await closeAll(this.sources.values());
  }
}

/** See Checkpoint.open. */
export function openCheckpoint(folder: FolderSource, options: OpenOptions = {}): Promise<Checkpoint> {
  return Checkpoint.open(folder, options);
}

async function readIndex(folder: FolderSource) {
  if (await folder.exists(INDEX_FILE)) return parseShardIndex(await folder.readText(INDEX_FILE), INDEX_FILE);
  if (await folder.exists(SINGLE_FILE)) return undefined;
  throw new CheckpointError(folder.name, `neither ${INDEX_FILE} nor ${SINGLE_FILE} is in this folder`);
}

interface Shard {
  source: ByteSource;
  header: SafetensorsHeader;
}

/** The index is authoritative: each tensor it names must be in the shard it names; shard extras are ignored. */
function placeByIndex(weightMap: Map<string, string>, shards: Map<string, Shard>, folderName: string): Map<string, TensorInfo> {
  const tensors = new Map<string, TensorInfo>();
  for (const [name, file] of weightMap) {
    const shard = shards.get(file)!;
    const info = shard.header.tensors.get(name);
    if (!info) {
      throw new CheckpointError(
        shard.source.name,
        `${INDEX_FILE} in ${folderName} places this tensor in shard ${file}, but that shard's header lacks it`,
        name,
      );
    }
    tensors.set(name, info);
  }
  return tensors;
}

/** Shards checked a few at a time: fast on HTTP, and an index of thousands of missing ones stops at the first. */
const EXISTS_CONCURRENCY = 8;

/** Fails on the first shard the folder lacks, before any is opened (opening holds a file handle each). */
async function requireAll(folder: FolderSource, files: string[]): Promise<void> {
  for (let i = 0; i < files.length; i += EXISTS_CONCURRENCY) {
    const batch = files.slice(i, i + EXISTS_CONCURRENCY);
    const found = await Promise.all(batch.map((f) => folder.exists(f)));
    const missing = batch.find((_, j) => !found[j]);
    if (missing !== undefined) {
      throw new CheckpointError(`${folder.name.replace(/\/$/, '')}/${missing}`, `no such file (listed in ${INDEX_FILE}, which names ${files.length} shards)`);
    }
  }
}

/** Opens every file, or none: on a failure the ones already open are closed again. */
async function openAll(folder: FolderSource, files: string[]): Promise<ByteSource[]> {
  const settled = await Promise.allSettled(files.map((f) => folder.open(f)));
  const opened = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failure = settled.find((s) => s.status === 'rejected');
  if (failure) {
    await closeAll(opened);
    throw failure.reason;
  }
  return opened;
}

async function closeAll(sources: Iterable<ByteSource>): Promise<void> {
  await Promise.allSettled([...sources].map((s) => s.close?.()));
}
