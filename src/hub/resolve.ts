// A --model that names a Hugging Face repository becomes a folder on disk: the repository's snapshot in the
// hub cache, with the files the engine reads downloaded into it first (what is there already, from an earlier
// run or from transformers / vLLM, is reused without a request). Offline (HF_HUB_OFFLINE=1), or when the hub
// cannot be reached, the cached snapshot of the revision is used as it is. Node-only; the browser reads
// checkpoints by URL instead (httpFolder).
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FolderSource } from '../checkpoint/byte-source.ts';
import { INDEX_FILE, parseShardIndex } from '../checkpoint/shard-index.ts';
import { httpFolder } from '../checkpoint/sources/http-range.ts';
import { HubError } from '../errors.ts';
import { RepoCache } from './cache.ts';
import { downloadBlob } from './download.ts';
import { HubClient, HubUnreachableError, type FileMetadata, type HubClientOptions } from './http.ts';
import { looksLikeRepoId, parseRepoId, repoName, type RepoId } from './repo-id.ts';
import { hubSettings, type HubSettings } from './settings.ts';

/** The files the engine reads besides the shards; config.json and one weights file must exist. */
const CONFIG_FILE = 'config.json';
const OPTIONAL_FILES = ['generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'tiktoken.model'];
const SINGLE_FILE = 'model.safetensors';
/** HEAD requests in flight at once (DeepSeek-V3 has 163 shards); the downloads themselves run one at a time. */
const HEAD_CONCURRENCY = 8;

export interface ResolveModelOptions extends Partial<HubSettings>, HubClientOptions {
  /** Branch, tag or commit when the id has no `@revision` (default: main). */
  revision?: string;
  /** Where HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE are read (default: process.env). */
  env?: Record<string, string | undefined>;
  /** Bytes downloaded of those to download, over all files. */
  onProgress?(done: number, total: number): void;
  /** A line for the user, e.g. that the hub was unreachable and the cache was used. */
  onNote?(text: string): void;
}

export interface ResolvedModel {
  /** The folder to load: `model` itself when it is a path, else the snapshot folder. */
  dir: string;
  /** For a hub id: `owner/name`. */
  repo?: string;
  /** For a hub id: the branch, tag or commit asked for. */
  revision?: string;
  /** For a hub id: the commit the revision resolved to (the snapshot folder's name). */
  commit?: string;
  /** Files downloaded by this call. */
  downloaded: string[];
  /** Bytes downloaded by this call. */
  downloadedBytes: number;
  /** Files whose bytes were in the cache already. */
  reused: string[];
  /** True when no request was made to the hub (offline mode, or the hub unreachable). */
  fromCacheOnly: boolean;
}

/**
 * `model` as a folder on disk. A path that exists is returned as it is, and so is anything that is not
 * shaped like `owner/name[@revision]` (the loader then reports the missing folder); an id is resolved
 * through the hub cache as described above.
 */
export async function resolveModel(model: string, options: ResolveModelOptions = {}): Promise<ResolvedModel> {
  const local: ResolvedModel = { dir: model, downloaded: [], downloadedBytes: 0, reused: [], fromCacheOnly: true };
  if ((await stat(model).catch(() => undefined)) !== undefined || !looksLikeRepoId(model)) return local;
  const { repo, settings, client } = hubAccess(model, options);
  const { onProgress, onNote } = options;
  const cache = new RepoCache(settings.cacheDir, repo);
  if (settings.offline) return fromCache(cache, 'HF_HUB_OFFLINE is set');
  let listing;
  try {
    listing = await client.listing(repo);
  } catch (e) {
    if (!(e instanceof HubUnreachableError)) throw notFoundLocally(e, model);
    const cached = await fromCache(cache, e.detail);
    onNote?.(`${repoName(repo)}: ${e.detail}; using the cached snapshot ${cached.commit}`);
    return cached;
  }
  const pull = new Pull(client, cache, repo, listing.commit, listing.files, onProgress);
  await pull.files([CONFIG_FILE, ...OPTIONAL_FILES.filter((f) => listing.files.has(f)), weightsFile(repo, listing.files)]);
  if (listing.files.has(INDEX_FILE)) await pull.files(await pull.shards());
  await cache.writeRef(repo.revision, listing.commit);
  return { ...pull.result(), dir: cache.snapshotDir(listing.commit), repo: repoName(repo), revision: repo.revision, commit: listing.commit, fromCacheOnly: false };
}

/**
 * The Hugging Face model `model` names, read in place at the revision's commit with range requests
 * (httpFolder), nothing downloaded: for a look at config.json and the shard headers (`info`).
 */
export async function remoteModelFolder(model: string, options: ResolveModelOptions = {}): Promise<FolderSource> {
  const { repo, settings, client } = hubAccess(model, options);
  if (settings.offline) throw new HubError(repoName(repo), 'HF_HUB_OFFLINE is set, so the repository cannot be read over the network');
  const { commit } = await client.listing(repo);
  return httpFolder(`${settings.endpoint}/${repo.owner}/${repo.name}/resolve/${commit}/`, { fetch: client.fetch });
}

function hubAccess(model: string, options: ResolveModelOptions): { repo: RepoId; settings: HubSettings; client: HubClient } {
  const repo = parseRepoId(model, options.revision);
  const { env, attempts, retryDelayMs, requestTimeoutMs, cacheDir, endpoint, token, offline } = options;
  const settings = hubSettings(env, { cacheDir, endpoint, token, offline });
  return { repo, settings, client: new HubClient(settings, { attempts, retryDelayMs, requestTimeoutMs }) };
}

/** Downloads into one snapshot, counting what it fetched and what it found. */
class Pull {
  private readonly downloaded: string[] = [];
  private readonly reused: string[] = [];
  private bytesBefore = 0;
  private total = 0;

  constructor(
    private readonly client: HubClient,
    private readonly cache: RepoCache,
    private readonly repo: RepoId,
    private readonly commit: string,
    private readonly listed: Set<string>,
    private readonly onProgress?: (done: number, total: number) => void,
  ) {}

  /** Brings `files` into the snapshot: present ones untouched (no request), the rest from blobs or the hub. */
  async files(files: string[]): Promise<void> {
    const missing: string[] = [];
    for (const file of files) if (!(await this.cache.hasSnapshotFile(this.commit, file))) missing.push(file);
    const metas = await inParallel(missing, HEAD_CONCURRENCY, (file) => this.client.metadata(this.repo, this.commit, file));
    const found = await Promise.all(metas.map(async (meta) => (await this.cache.blobSize(meta.etag)) === meta.size));
    for (let i = 0; i < missing.length; i++) if (!found[i]) this.total += metas[i]!.size;
    for (let i = 0; i < missing.length; i++) {
      const file = missing[i]!;
      const meta = metas[i]!;
      if (found[i]) {
        this.reused.push(file);
      } else {
        await downloadBlob(this.client, this.cache, `${repoName(this.repo)}/${file}`, meta, (done) => this.onProgress?.(this.bytesBefore + done, this.total));
        this.bytesBefore += meta.size;
        this.downloaded.push(file);
      }
      await this.cache.link(this.commit, file, meta.etag);
    }
  }

  /** The shards model.safetensors.index.json names (names checked by parseShardIndex); each must be listed. */
  async shards(): Promise<string[]> {
    const path = this.cache.snapshotPath(this.commit, INDEX_FILE);
    const { files } = parseShardIndex(await readFile(path, 'utf8'), path);
    const absent = files.filter((f) => !this.listed.has(f));
    if (absent.length > 0) throw new HubError(`${repoName(this.repo)}/${INDEX_FILE}`, `names shard ${absent[0]}, which the repository does not have (${absent.length} such)`);
    return files;
  }

  result(): Pick<ResolvedModel, 'downloaded' | 'downloadedBytes' | 'reused'> {
    return { downloaded: this.downloaded, downloadedBytes: this.bytesBefore, reused: this.reused };
  }
}

function weightsFile(repo: RepoId, listed: Set<string>): string {
  if (!listed.has(CONFIG_FILE)) throw new HubError(repoName(repo), `has no ${CONFIG_FILE} at revision ${repo.revision}: not a model this engine can load`);
  if (listed.has(INDEX_FILE)) return INDEX_FILE;
  if (listed.has(SINGLE_FILE)) return SINGLE_FILE;
  throw new HubError(repoName(repo), `has no safetensors weights (${INDEX_FILE} or ${SINGLE_FILE}) at revision ${repo.revision}`);
}

/** The cached snapshot of the revision, when it holds config.json and all the weights; else a HubError saying what is missing. */
async function fromCache(cache: RepoCache, why: string): Promise<ResolvedModel> {
  const { repo } = cache;
  const name = repoName(repo);
  const commit = await cache.commitFor(repo.revision);
  const advice = `run \`deepseek-webgpu pull ${name}${repo.revision === 'main' ? '' : `@${repo.revision}`}\` with network access first`;
  if (!commit || !(await stat(cache.snapshotDir(commit)).catch(() => undefined))) {
    throw new HubError(name, `${why}, and the Hugging Face cache (${cache.cacheDir}) has no snapshot of revision ${repo.revision}: ${advice}`);
  }
  const missing: string[] = [];
  for (const file of [CONFIG_FILE, ...(await cachedWeights(cache, commit))]) if (!(await cache.hasSnapshotFile(commit, file))) missing.push(file);
  if (missing.length > 0) {
    throw new HubError(name, `${why}, and the cached snapshot ${join(cache.snapshotDir(commit))} lacks ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ` and ${missing.length - 3} more` : ''}: ${advice}`);
  }
  return { dir: cache.snapshotDir(commit), repo: name, revision: repo.revision, commit, downloaded: [], downloadedBytes: 0, reused: [], fromCacheOnly: true };
}

async function cachedWeights(cache: RepoCache, commit: string): Promise<string[]> {
  if (!(await cache.hasSnapshotFile(commit, INDEX_FILE))) return [SINGLE_FILE];
  const path = cache.snapshotPath(commit, INDEX_FILE);
  return [INDEX_FILE, ...parseShardIndex(await readFile(path, 'utf8'), path).files];
}

/** A hub refusal for an id that might have been meant as a folder says that no such folder exists either. */
function notFoundLocally(e: unknown, model: string): unknown {
  if (!(e instanceof HubError) || !/\(404\)/.test(e.detail)) return e;
  return new HubError(e.target, `${e.detail}; and there is no folder '${model}' here`);
}

/** `work` over `items` with at most `limit` running at once; results in the items' order. */
async function inParallel<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
