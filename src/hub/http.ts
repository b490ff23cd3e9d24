// The hub's HTTP protocol, as huggingface_hub speaks it:
//   GET  {endpoint}/api/models/{owner}/{name}/revision/{revision}  -> { sha: commit, siblings: [{ rfilename }] }
//   HEAD {endpoint}/{owner}/{name}/resolve/{commit}/{file}         -> ETag / X-Linked-Etag, X-Repo-Commit,
//        Content-Length / X-Linked-Size; an LFS file answers 302 with the CDN's (signed) URL in Location.
// Redirects are followed by hand: within the endpoint's origin (a renamed repository) the token goes along;
// to any other origin (the CDN) it does not, as huggingface_hub drops it when the download host differs.
import { excerpt, HubError } from '../errors.ts';
import { repoName, type RepoId } from './repo-id.ts';
import type { HubSettings } from './settings.ts';

/** What a HEAD on a file's resolve URL says about it. */
export interface FileMetadata {
  /** The blob's name in the cache: sha256 (LFS) or git blob sha1 (regular file), lowercase hex. */
  etag: string;
  size: number;
  commit: string;
  /** Where to GET the bytes: the CDN's URL for an LFS file, else the resolve URL. */
  url: string;
}

export interface RepoListing {
  commit: string;
  files: Set<string>;
}

/** The hub could not be reached (connection refused, DNS, timeout, 5xx, 429): worth a retry, or the cache. */
export class HubUnreachableError extends HubError {
  override name = 'HubError';
}

export interface HubClientOptions {
  /** Attempts per request, downloads included (default 5). */
  attempts?: number;
  /** The first wait between attempts, doubling after each (default 1000 ms, at most 10 s). */
  retryDelayMs?: number;
  /** Limit for the listing and HEAD requests (default 10 s; downloads have none, only stalls end them). */
  requestTimeoutMs?: number;
}

const MAX_REDIRECTS = 10;
/** Characters an etag may have to become a blob's file name. */
const SAFE_ETAG = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

export class HubClient {
  readonly attempts: number;
  readonly retryDelayMs: number;
  private readonly timeoutMs: number;
  private readonly origin: string;

  constructor(
    readonly settings: HubSettings,
    options: HubClientOptions = {},
  ) {
    this.attempts = Math.max(1, options.attempts ?? 5);
    this.retryDelayMs = options.retryDelayMs ?? 1000;
    this.timeoutMs = options.requestTimeoutMs ?? 10_000;
    this.origin = new URL(settings.endpoint).origin;
  }

  /**
   * The commit `repo.revision` points at and the repository's file names. At most two attempts: an unreachable
   * hub here means the cached snapshot is used, which should not wait for the downloads' full backoff.
   */
  async listing(repo: RepoId): Promise<RepoListing> {
    const url = `${this.settings.endpoint}/api/models/${repo.owner}/${repo.name}/revision/${encodeURIComponent(repo.revision)}`;
    const response = await this.retrying(repoName(repo), () => this.request('GET', url, true), Math.min(2, this.attempts));
    let json: unknown;
    try {
      json = await response.json();
    } catch {
      throw new HubError(repoName(repo), `the hub's listing at ${url} is not JSON`);
    }
    const { sha, siblings } = (json ?? {}) as { sha?: unknown; siblings?: unknown };
    if (typeof sha !== 'string' || !/^[0-9a-f]{40}$/.test(sha)) throw new HubError(repoName(repo), `the hub's listing has no commit hash ('sha': ${excerpt(sha)})`);
    if (!Array.isArray(siblings)) throw new HubError(repoName(repo), "the hub's listing has no 'siblings' list of files");
    const files = new Set<string>();
    for (const sibling of siblings) {
      const name = (sibling as { rfilename?: unknown } | null)?.rfilename;
      if (typeof name === 'string') files.add(name);
    }
    return { commit: sha, files };
  }

  /** HEAD on the file's resolve URL at `commit`, following same-origin redirects only. */
  async metadata(repo: RepoId, commit: string, file: string): Promise<FileMetadata> {
    const target = `${repoName(repo)}/${file}`;
    const resolveUrl = `${this.settings.endpoint}/${repo.owner}/${repo.name}/resolve/${commit}/${file.split('/').map(encodeURIComponent).join('/')}`;
    const response = await this.retrying(target, () => this.request('HEAD', resolveUrl, true, { sameOriginOnly: true }));
    const header = (name: string) => response.headers.get(name) ?? undefined;
    const etag = normalizeEtag(header('x-linked-etag') ?? header('etag'));
    const size = Number(header('x-linked-size') ?? header('content-length'));
    const repoCommit = header('x-repo-commit');
    if (!etag) throw new HubError(target, 'the hub sent no ETag for this file, so it cannot be verified or cached');
    if (!SAFE_ETAG.test(etag)) throw new HubError(target, `the hub's ETag ${excerpt(etag)} is not a plain hash`);
    if (!Number.isSafeInteger(size) || size < 0) throw new HubError(target, 'the hub sent no size (X-Linked-Size or Content-Length) for this file');
    if (repoCommit !== undefined && repoCommit !== commit) throw new HubError(target, `the hub answered for commit ${excerpt(repoCommit)}, not the ${commit} asked for`);
    const location = response.status >= 300 && response.status < 400 ? header('location') : undefined;
    return { etag, size, commit, url: location ? new URL(location, response.url || resolveUrl).href : response.url || resolveUrl };
  }

  /** GET `url` (from metadata()), from byte `from` on when it is > 0; the response is not checked here. */
  download(target: string, url: string, from: number): Promise<Response> {
    return this.request('GET', url, false, { range: from > 0 ? `bytes=${from}-` : undefined }).catch((e: unknown) => {
      throw e instanceof HubError ? e : unreachable(target, e);
    });
  }

  /** Runs `attempt` up to `attempts` times while the hub is unreachable, waiting longer each time. */
  async retrying<T>(target: string, attempt: () => Promise<T>, attempts = this.attempts): Promise<T> {
    for (let n = 1; ; n++) {
      try {
        return await attempt().catch((e: unknown) => {
          throw e instanceof HubError ? e : unreachable(target, e);
        });
      } catch (e) {
        if (!(e instanceof HubUnreachableError) || n >= attempts) throw e;
        await this.pause(n);
      }
    }
  }

  pause(attempt: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, Math.min(10_000, this.retryDelayMs * 2 ** (attempt - 1))));
  }

  /**
   * A fetch for httpFolder(), which reads a repository in place with range requests: the same redirect and
   * token rules as every other request here. Network failures reject as fetch's do.
   */
  readonly fetch: typeof fetch = (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((value, name) => (headers[name] = value));
    return this.follow(init?.method === 'HEAD' ? 'HEAD' : 'GET', url, headers, { signal: init?.signal ?? undefined });
  };

  /** One request through follow(); `checked`: a non-2xx answer becomes a HubError. */
  private async request(
    method: 'GET' | 'HEAD',
    url: string,
    checked: boolean,
    options: { sameOriginOnly?: boolean; range?: string } = {},
  ): Promise<Response> {
    const signal = method === 'HEAD' || checked ? AbortSignal.timeout(this.timeoutMs) : undefined;
    const response = await this.follow(method, url, options.range ? { range: options.range } : {}, { sameOriginOnly: options.sameOriginOnly, signal });
    const redirected = response.status >= 300 && response.status < 400; // to another origin, under sameOriginOnly
    if (checked && !response.ok && !redirected) throw await statusError(response, response.url || url);
    return response;
  }

  /**
   * The request with its redirects followed by hand, the token added only on the endpoint's origin.
   * `sameOriginOnly`: stop at a redirect to another origin and return it (HEAD to a CDN).
   */
  private async follow(
    method: 'GET' | 'HEAD',
    url: string,
    extra: Record<string, string>,
    options: { sameOriginOnly?: boolean; signal?: AbortSignal },
  ): Promise<Response> {
    let current = url;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const headers: Record<string, string> = { 'user-agent': 'deepseek-webgpu', 'accept-encoding': 'identity', ...extra };
      delete headers.authorization; // only ever this client's own token, and only where it belongs
      if (this.settings.token && new URL(current).origin === this.origin) headers.authorization = `Bearer ${this.settings.token}`;
      const response = await fetch(current, { method, headers, redirect: 'manual', signal: options.signal });
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location) {
        const next = new URL(location, current);
        if (options.sameOriginOnly && next.origin !== new URL(current).origin) return withUrl(response, current);
        await response.body?.cancel();
        current = next.href;
        continue;
      }
      return withUrl(response, current);
    }
    throw new HubError(url, `more than ${MAX_REDIRECTS} redirects`);
  }
}

/** `W/"abc"` and `"abc"` → `abc`, as huggingface_hub normalizes it. */
export function normalizeEtag(etag: string | undefined): string | undefined {
  if (etag === undefined) return undefined;
  const plain = etag.trim().replace(/^W\//, '').replace(/^"|"$/g, '');
  return plain === '' ? undefined : plain;
}

/** A refusal in words, with the hub's own X-Error-Message when it sent one (never the token). */
export async function statusError(response: Response, url: string): Promise<HubError> {
  await response.body?.cancel().catch(() => undefined);
  const path = new URL(url).pathname;
  const code = response.headers.get('x-error-code') ?? '';
  const said = response.headers.get('x-error-message');
  const hub = said ? ` (the hub says: ${excerpt(said)})` : '';
  const status = response.status;
  if (status >= 500 || status === 429 || status === 408) return new HubUnreachableError(path, `the hub answered ${status}${hub}`);
  if (status === 401 || status === 403 || code === 'GatedRepo') {
    return new HubError(path, `the hub refused access (${status})${hub}: the repository is private or gated; set HF_TOKEN to a token that has been granted access`);
  }
  if (status === 404) {
    const what = code === 'RevisionNotFound' ? 'no such revision' : code === 'EntryNotFound' ? 'no such file' : 'no such repository (or it is private: set HF_TOKEN)';
    return new HubError(path, `${what} (404)${hub}`);
  }
  return new HubError(path, `the hub answered ${status}${hub}`);
}

function unreachable(target: string, e: unknown): HubUnreachableError {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  const reason = (e as Error).name === 'TimeoutError' ? 'timed out' : (cause?.code ?? cause?.message ?? (e as Error).message);
  return new HubUnreachableError(target, `could not reach the hub (${reason})`);
}

/** fetch() leaves Response.url empty for a manual-redirect response; the caller needs the URL it asked. */
function withUrl(response: Response, url: string): Response {
  if (response.url) return response;
  Object.defineProperty(response, 'url', { value: url });
  return response;
}
