// A small static file server for the demo page and the browser tests: GET and HEAD, single byte ranges
// (`Range: bytes=a-b`, `a-`, `-n`) answered with 206 / 416 as RFC 9110 says, folders mounted under URL
// prefixes, loopback only. Checkpoints are read by range, so shards are streamed, never loaded whole.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, resolve, sep } from 'node:path';

export interface StaticServerOptions {
  /** URL prefix ('/', '/dist/') -> folder. The longest matching prefix wins. */
  mounts: Record<string, string>;
  /** Default 0: any free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
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

  const server = createServer((req, res) => {
    handle(req, res, mounts, ranges)
      .catch((e: unknown) => {
        if (!res.headersSent) send(res, 500, `${(e as Error)?.message ?? e}\n`);
        else res.destroy();
      })
      .finally(() => options.onRequest?.(req.method ?? '?', req.url ?? '?', res.statusCode));
  });
  const host = options.host ?? '127.0.0.1';
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
  let path: string;
  try {
    path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
  } catch {
    return send(res, 400, 'bad URL\n');
  }
  const mount = mounts.find(([prefix]) => path.startsWith(prefix) || `${path}/` === prefix);
  if (!mount) return send(res, 404, 'not found\n');
  const [prefix, dir] = mount;
  let file = resolve(dir, `.${sep}${path.slice(prefix.length)}`);
  if (file !== dir && !file.startsWith(dir + sep)) return send(res, 403, 'outside the served folder\n');
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

  const size = info.size;
  res.setHeader('Content-Type', TYPES[extname(file)] ?? 'application/octet-stream');
  res.setHeader('Cache-Control', 'no-cache');
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
 * One range of `bytes=a-b`, `bytes=a-` or `bytes=-n`, clamped to the file; 'unsatisfiable' when it starts past
 * the end; null (send the whole file) for anything else, multiple ranges included, as RFC 9110 allows.
 */
export function parseRange(header: string, size: number): [number, number] | 'unsatisfiable' | null {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    return [Math.max(0, size - suffix), size - 1];
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== '' && Number(m[2]) < start) return null;
  if (start >= size) return 'unsatisfiable';
  return [start, end];
}

function send(res: ServerResponse, status: number, body: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.end(body);
}
