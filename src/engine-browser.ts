// loadModel() for the browser: a checkpoint folder from a URL (HTTP range requests) or from files the user
// picked, a WebGPU device from navigator.gpu, and the engine over them. Browser-safe.
import type { FolderSource } from './checkpoint/byte-source.ts';
import { fileFolder, type PickedFile } from './checkpoint/sources/browser-file.ts';
import { httpFolder, type HttpFolderOptions } from './checkpoint/sources/http-range.ts';
import { Engine, type EngineOptions } from './engine.ts';
import { createGpu, type Gpu, type GpuOptions } from './gpu/device.ts';
import { adapterProfile } from './model/deepseek-model.ts';
import { idbTunedProfile } from './tune/tune-cache-idb.ts';

/**
 * Where the checkpoint folder is: a URL (absolute, or relative to the page), the files of an
 * `<input type=file webkitdirectory>` (a FileList or File[]), or any FolderSource.
 */
export type ModelLocation = string | URL | FileList | readonly PickedFile[] | FolderSource;

export interface BrowserLoadModelOptions extends EngineOptions {
  /** An existing device to load onto (it stays yours to destroy); default: a new one the engine owns. */
  gpu?: Gpu;
  /** How to create that device (ignored with `gpu`). */
  gpuOptions?: GpuOptions;
  /** For URLs: the fetch to use, extra headers, an AbortSignal. */
  http?: HttpFolderOptions;
  /**
   * For URLs: keep the checkpoint's ranges in the browser's Cache API, so the next load reads them from there
   * while the files' ETags are unchanged (default true; `http.cache` has the last word). clearModelCache()
   * empties it.
   */
  cache?: boolean;
  /** Use a `tune` record for this adapter kept in IndexedDB (tune-cache-idb.ts) unless `profile` is set; default true. */
  tuneCache?: boolean;
}

/** Loads the model at `from` onto the GPU (navigator.gpu unless `options.gpu` is given). */
export async function loadModel(from: ModelLocation, options: BrowserLoadModelOptions = {}): Promise<Engine> {
  const folder = toFolder(from, { cache: options.cache, ...options.http });
  const gpu = options.gpu ?? (await createGpu(options.gpuOptions));
  try {
    const tuned = options.profile || options.tuneCache === false ? null : await idbTunedProfile(gpu, adapterProfile(gpu));
    return await Engine.load(gpu, folder, { ...options, profile: options.profile ?? tuned ?? undefined, ownsGpu: !options.gpu });
  } catch (e) {
    if (!options.gpu) gpu.destroy();
    throw e;
  }
}

/** The FolderSource behind a ModelLocation. */
export function toFolder(from: ModelLocation, http?: HttpFolderOptions): FolderSource {
  if (typeof from === 'string' || from instanceof URL) return httpFolder(from, http);
  if (isFolderSource(from)) return from;
  return fileFolder(from);
}

function isFolderSource(value: object): value is FolderSource {
  const v = value as Partial<FolderSource>;
  return typeof v.open === 'function' && typeof v.readText === 'function' && typeof v.exists === 'function';
}
