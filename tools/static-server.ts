// A small static file server for the demo page and the browser tests: GET and HEAD, single byte ranges
// (`Range: bytes=a-b`, `a-`, `-n`) answered with 206 / 416 as RFC 9110 says, folders mounted under URL
// prefixes, loopback only. Checkpoints are read by range, so shards are streamed, never loaded whole.
// It serves only what lies inside its folders: `..` and its encoded forms are refused, symlinks are
// followed only while they stay inside, and Host headers naming other machines (DNS rebinding) get 403 by
// the same rule as the API server's (src/server/origin-policy.ts).
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, resolve, sep } from 'node:path';
import { OriginPolicy } from '../src/server/origin-policy.ts';

export interface StaticServerOptions {
  /** URL prefix ('/', '/dist/') -> folder. The longest matching prefix wins. */
  mounts: Record<string, string>;
  /** Default 0: any free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Host header names served besides localhost, IP addresses and `host` ('*': any). */
  allowedHosts?: string[];
  /** false: ignore Range headers and always send whole files (to test clients against such servers). */
  ranges?: boolean;
  /** Called once per request, after the answer (for logs). */
  onRequest?: (method: string, url: string, status: number) => void;
}

export interface StaticServer {
  /** e.g. http://127.0.0.1:40123 (no trailing slash). */
  readonly origin: string;
  readonly server: Server;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.wasm': 'application/wasm',
};

export async function startStaticServer(options: StaticServerOptions): Promise<StaticServer> {
  const mounts = Object.entries(options.mounts)
    .map(([prefix, dir]) => [prefix.endsWith('/') ? prefix : `${prefix}/`, resolve(dir)] as const)
    .sort((a, b) => b[0].length - a[0].length);
  const ranges = options.ranges ?? true;
  const host = options.host ?? '127.0.0.1';
  const policy = new OriginPolicy({ boundHost: host, allowedHosts: options.allowedHosts });

  const server = createServer((req, res) => {
    const refusal = policy.checkHost(req.headers.host);
    const answer = refusal ? Promise.resolve(send(res, 403, `${refusal.message}\n`)) : handle(req, res, mounts, ranges);
    answer
      .catch((e: unknown) => {
        if (!res.headersSent) send(res, 500, `${(e as Error)?.message ?? e}\n`);
        else res.destroy();
      })
      .finally(() => options.onRequest?.(req.method ?? '?', req.url ?? '?', res.statusCode));
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? 0, host, () => ok());
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://${host}:${port}`,
    server,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, mounts: (readonly [string, string])[], ranges: boolean): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return send(res, 405, 'only GET and HEAD\n');
  }
  const path = requestPath(req.url ?? '/');
  if (path === null) return send(res, 400, 'bad path: no "..", ".", encoded slashes or NUL\n');
  const mount = mounts.find(([prefix]) => path.startsWith(prefix) || `${path}/` === prefix);
  if (!mount) return send(res, 404, 'not found\n');
  const [prefix, dir] = mount;
  let file = resolve(dir, `.${sep}${path.slice(prefix.length)}`);
  let info = await stat(file).catch(() => undefined);
  if (info?.isDirectory()) {
    if (!path.endsWith('/')) {
      res.setHeader('Location', `${path}/`);
      return send(res, 301, '');
    }
    file = resolve(file, 'index.html');
    info = await stat(file).catch(() => undefined);
  }
  if (!info?.isFile()) return send(res, 404, 'not found\n');
  // The path has no `..`, but a symlink on the way may still lead out: compare where it really is.
  const real = await realpath(file);
  const realDir = await realpath(dir);
  if (real !== realDir && !real.startsWith(realDir + sep)) return send(res, 403, 'outside the served folder\n');
  file = real; // read what was checked, not whatever the link points to by then

  const size = info.size;
  res.setHeader('Content-Type', TYPES[extname(file)] ?? 'application/octet-stream');
  res.setHeader('Cache-Control', 'no-cache');
  // Validators, so a page can tell whether the ranges it cached (src/checkpoint/sources/range-cache.ts) are current.
  res.setHeader('ETag', `"${size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`);
  res.setHeader('Last-Modified', info.mtime.toUTCString());
  if (ranges) res.setHeader('Accept-Ranges', 'bytes');
  const range = ranges ? req.headers.range : undefined;
  let start = 0;
  let end = size - 1;
  if (range !== undefined) {
    const parsed = parseRange(range, size);
    if (parsed === 'unsatisfiable') {
      res.setHeader('Content-Range', `bytes */${size}`);
      return send(res, 416, '');
    }
    if (parsed) {
      [start, end] = parsed;
      res.statusCode = 206;
      res.setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
    }
  }
  res.setHeader('Content-Length', String(Math.max(0, end - start + 1)));
  if (req.method === 'HEAD' || end < start) return void res.end();
  await new Promise<void>((ok, fail) => {
    const stream = createReadStream(file, { start, end });
    stream.once('error', fail);
    res.once('close', () => {
      stream.destroy();
      ok();
    });
    stream.pipe(res);
  });
}

/**
 * The decoded path of a request target, or null when a segment is `.` or `..` (also percent-encoded, which
 * URL parsing would otherwise resolve silently) or decodes to a slash, a backslash or NUL.
 */
function requestPath(target: string): string | null {
  const raw = target.split(/[?#]/)[0];
  if (!raw.startsWith('/')) return null;
  const segments: string[] = [];
  for (const segment of raw.split('/')) {
    let s: string;
    try {
      s = decodeURIComponent(segment);
    } catch {
      return null;
    }
    if (s === '.' || s === '..' || /[/\\\0]/.test(s)) return null;
    segments.push(s);
  }
  return segments.join('/');
}

/**
 * The byte range to send for a Range header, by RFC 9110 section 14:
 *   - one range, `bytes=a-b`, `bytes=a-` or `bytes=-n` (the unit in any case), clamped to the file;
 *   - 'unsatisfiable' (416, `Content-Range: bytes * /size`) when it starts at or past the end, or asks for the
 *     last 0 bytes; an empty file has no byte to start at, so any `a-b` range is unsatisfiable there;
 *   - null (200 with the whole file) for anything else: a malformed header (which the RFC says to ignore),
 *     several ranges (serving them whole is allowed and keeps this server free of multipart answers), and a
 *     suffix range on an empty file (satisfiable by the RFC's letter, but a 206 would have to name a byte
 *     range of nothing, which Content-Range cannot express; the whole, empty file is the same answer).
 */
export function parseRange(header: string, size: number): [number, number] | 'unsatisfiable' | null {
  const m = /^bytes=[ \t]*(\d*)-(\d*)[ \t]*$/i.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    if (size === 0) return null;
    return [Math.max(0, size - suffix), size - 1];
  }
  const start = Number(m[1]);
  if (m[2] !== '' && Number(m[2]) < start) return null;
  if (start >= size) return 'unsatisfiable';
  return [start, m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1)];
}

function send(res: ServerResponse, status: number, body: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.end(body);
}
