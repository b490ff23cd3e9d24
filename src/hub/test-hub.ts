// A local stand-in for the Hugging Face hub, for tests: the listing API, resolve URLs with the hub's headers
// (ETag, X-Linked-Etag, X-Linked-Size, X-Repo-Commit), LFS files redirected (302) to a "CDN" on another
// origin, Range requests (206, and 416 when the range starts at the end), and faults on demand: a
// connection dropped midway, corrupted bytes, a Range header ignored. It records every request.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';

export interface TestRepo {
  owner: string;
  name: string;
  files: Map<string, Uint8Array>;
  /** Requests without `Authorization: Bearer <token>` get 401. */
  token?: string;
}

export interface Faults {
  /** The next `drops` CDN downloads stop after this many bytes, the connection destroyed. */
  dropAfter?: number;
  drops?: number;
  /** Every CDN download has one byte changed. */
  corrupt?: boolean;
  /** Range headers are ignored: 200 with the whole file. */
  ignoreRange?: boolean;
}

export interface LoggedRequest {
  server: 'hub' | 'cdn';
  method: string;
  path: string;
  status: number;
  authorization?: string;
  range?: string;
}

export interface TestHub {
  endpoint: string;
  cdn: string;
  requests: LoggedRequest[];
  faults: Faults;
  /** The commit the repository's main branch points at. */
  commitOf(repo: TestRepo): string;
  close(): Promise<void>;
}

/** A repository holding the files of a folder on disk (not its subfolders). */
export function repoFromFolder(owner: string, name: string, folder: string): TestRepo {
  const files = new Map<string, Uint8Array>();
  for (const entry of readdirSync(folder, { withFileTypes: true })) if (entry.isFile()) files.set(entry.name, readFileSync(join(folder, entry.name)));
  return { owner, name, files };
}

/** How the hub stores a file: LFS for weights, git for the rest. */
export function isLfs(file: string): boolean {
  return file.endsWith('.safetensors');
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function gitSha1(bytes: Uint8Array): string {
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

export function etagOf(file: string, bytes: Uint8Array): string {
  return isLfs(file) ? sha256(bytes) : gitSha1(bytes);
}

/** `renamed` maps an old `owner/name` to the current one: its URLs answer 307 with a relative Location, as the hub does. */
export async function startTestHub(repos: TestRepo[], renamed: Record<string, string> = {}): Promise<TestHub> {
  const requests: LoggedRequest[] = [];
  const faults: Faults = {};
  const commitOf = (repo: TestRepo) => createHash('sha1').update(`${repo.owner}/${repo.name}`).digest('hex');
  const blobs = new Map<string, Uint8Array>();
  for (const repo of repos) for (const [file, bytes] of repo.files) if (isLfs(file)) blobs.set(sha256(bytes), bytes);

  const log = (server: 'hub' | 'cdn', req: IncomingMessage, res: ServerResponse) =>
    res.on('close', () =>
      requests.push({ server, method: req.method!, path: req.url!, status: res.statusCode, authorization: req.headers.authorization, range: req.headers.range }),
    );

  const cdnServer = createServer((req, res) => {
    log('cdn', req, res);
    const bytes = blobs.get(req.url!.replace(/^\/blobs\//, ''));
    if (!bytes) return refuse(res, 404, 'EntryNotFound');
    let body = bytes;
    if (faults.corrupt) {
      body = new Uint8Array(bytes); // a copy (Buffer.slice would share the bytes)
      body[Math.floor(body.length / 2)]! ^= 0x5a;
    }
    const drop = faults.dropAfter !== undefined && (faults.drops ?? 1) > 0;
    if (drop) faults.drops = (faults.drops ?? 1) - 1;
    sendBytes(req, res, body, {}, drop ? faults.dropAfter : undefined, faults.ignoreRange);
  });

  const hubServer = createServer((req, res) => {
    log('hub', req, res);
    const url = new URL(req.url!, 'http://hub');
    const api = url.pathname.match(/^\/api\/models\/([^/]+)\/([^/]+)\/revision\/(.+)$/);
    const resolve = url.pathname.match(/^\/([^/]+)\/([^/]+)\/resolve\/([^/]+)\/(.+)$/);
    const match = api ?? resolve;
    const newName = match && renamed[`${match[1]}/${match[2]}`];
    if (newName) {
      res.writeHead(307, { location: url.pathname.replace(`/${match[1]}/${match[2]}/`, `/${newName}/`) });
      return res.end();
    }
    const repo = match && repos.find((r) => r.owner === match[1] && r.name === match[2]);
    if (!match || !repo) return refuse(res, 404, 'RepoNotFound', 'Repository not found');
    if (repo.token && req.headers.authorization !== `Bearer ${repo.token}`) return refuse(res, 401, 'GatedRepo', 'Access to this model is restricted');
    const revision = decodeURIComponent(match[3]!);
    if (revision !== 'main' && revision !== commitOf(repo)) return refuse(res, 404, 'RevisionNotFound', `Invalid rev id: ${revision}`);
    if (api) {
      const json = JSON.stringify({ id: `${repo.owner}/${repo.name}`, sha: commitOf(repo), siblings: [...repo.files.keys()].map((rfilename) => ({ rfilename })) });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
      return res.end(json);
    }
    const file = match[4]!.split('/').map(decodeURIComponent).join('/');
    const bytes = repo.files.get(file);
    if (!bytes) return refuse(res, 404, 'EntryNotFound', `${file} does not exist`);
    const common = { 'x-repo-commit': commitOf(repo), 'accept-ranges': 'bytes' };
    if (isLfs(file)) {
      // The hub's ETag on the redirect is the pointer file's; X-Linked-Etag is the content's sha256.
      res.writeHead(302, {
        ...common,
        location: `${cdnOrigin}/blobs/${sha256(bytes)}`,
        etag: `"${gitSha1(new TextEncoder().encode(`pointer ${file}`))}"`,
        'x-linked-etag': `"${sha256(bytes)}"`,
        'x-linked-size': String(bytes.length),
        'content-length': '0',
      });
      return res.end();
    }
    sendBytes(req, res, bytes, { ...common, etag: `"${gitSha1(bytes)}"` });
  });

  const listen = (server: Server) => new Promise<string>((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as { port: number }).port}`)));
  const endpoint = await listen(hubServer);
  const cdnOrigin = await listen(cdnServer);
  const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));
  return {
    endpoint,
    cdn: cdnOrigin,
    requests,
    faults,
    commitOf,
    close: async () => {
      hubServer.closeAllConnections();
      cdnServer.closeAllConnections();
      await Promise.all([close(hubServer), close(cdnServer)]);
    },
  };
}

/** The bytes, or the range `bytes=N-` / `bytes=N-M` of them (206; 416 from the end on); `dropAfter` cuts the body. */
function sendBytes(req: IncomingMessage, res: ServerResponse, bytes: Uint8Array, headers: Record<string, string>, dropAfter?: number, ignoreRange = false): void {
  const range = ignoreRange ? undefined : req.headers.range?.match(/^bytes=(\d+)-(\d*)$/);
  const start = range ? Number(range[1]) : 0;
  const end = range?.[2] ? Math.min(Number(range[2]), bytes.length - 1) : bytes.length - 1;
  if (range && start >= bytes.length) {
    res.writeHead(416, { ...headers, 'content-range': `bytes */${bytes.length}` });
    return void res.end();
  }
  const body = bytes.subarray(start, end + 1);
  res.writeHead(range ? 206 : 200, {
    ...headers,
    'content-length': String(body.length),
    ...(range ? { 'content-range': `bytes ${start}-${end}/${bytes.length}` } : {}),
  });
  if (req.method === 'HEAD') return void res.end();
  if (dropAfter === undefined || dropAfter >= body.length) return void res.end(body);
  // The socket is half-closed after the bytes (a FIN, not a reset), so the client receives exactly dropAfter bytes.
  res.write(body.subarray(0, dropAfter), () => res.socket?.end());
}

function refuse(res: ServerResponse, status: number, code: string, message = code): void {
  res.writeHead(status, { 'x-error-code': code, 'x-error-message': message, 'content-type': 'text/plain' });
  res.end(message);
}
