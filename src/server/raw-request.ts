// One HTTP request with every header under the caller's control, for tests: fetch() refuses to send a
// foreign Host header (it is a forbidden header) and adds headers of its own, which the servers' checks of
// Host, Origin and Content-Type have to be tested without.
import { request } from 'node:http';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export function rawRequest(url: string, options: { method?: string; headers?: Record<string, string>; body?: string; path?: string } = {}): Promise<RawResponse> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      // `path` goes out verbatim: URL would normalize away the `..` and `%2e` that traversal tests need.
      { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port, method: options.method ?? 'GET', path: options.path ?? `${u.pathname}${u.search}`, headers: options.headers, setHost: !options.headers?.host },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}
