// The checks every request passes before routing: Host and Origin (origin-policy.ts), the CORS answers for
// pages that are let in (preflights included), and the API key on /v1 routes and /metrics (which tells how
// busy the server is and how much it has generated). /health stays open so that load balancers and scripts
// can probe it without the key, and so does the chat page, which asks for the key itself.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError } from './api-error.ts';
import { ApiKeyCheck } from './api-key.ts';
import { OriginPolicy } from './origin-policy.ts';

export interface AccessOptions {
  /** The address the server is bound to. */
  host: string;
  allowedHosts?: readonly string[];
  corsOrigins?: readonly string[];
  apiKey?: string;
}

// Browsers cache a preflight at most this long (Chromium caps it at 2 hours).
const PREFLIGHT_MAX_AGE_S = 600;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/i;

export class AccessGate {
  private readonly policy: OriginPolicy;
  private readonly key: ApiKeyCheck | null;

  constructor(options: AccessOptions) {
    this.key = options.apiKey === undefined ? null : new ApiKeyCheck(options.apiKey);
    this.policy = new OriginPolicy({ boundHost: options.host, allowedHosts: options.allowedHosts, corsOrigins: options.corsOrigins, authenticated: this.key !== null });
  }

  /**
   * Throws the 403 / 401 refusals; sets the CORS headers a let-in page needs on `res`. Returns true when it
   * has answered the request itself (a CORS preflight), false when routing should go on.
   */
  admit(req: IncomingMessage, res: ServerResponse, path: string): boolean {
    const host = req.headers.host;
    const hostRefusal = this.policy.checkHost(host);
    if (hostRefusal) throw new ApiError(403, hostRefusal.message, null, 'host_not_allowed');
    // Answers differ by Origin once CORS is on, so caches must keep them apart.
    if (this.policy.corsEnabled) res.setHeader('Vary', 'Origin');
    const origin = this.policy.checkOrigin(req.headers.origin, host);
    if (typeof origin === 'object' && origin !== null) throw new ApiError(403, origin.message, null, 'origin_not_allowed');
    if (typeof origin === 'string') {
      res.setHeader('Access-Control-Allow-Origin', origin);
      if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
        answerPreflight(req, res);
        return true;
      }
    }
    if (this.key && (path === '/v1' || path.startsWith('/v1/') || path === '/metrics')) {
      try {
        this.key.check(req.headers.authorization);
      } catch (e) {
        res.setHeader('WWW-Authenticate', 'Bearer');
        throw e;
      }
    }
    return false;
  }
}

function answerPreflight(req: IncomingMessage, res: ServerResponse): void {
  // The page's origin is trusted already, so whatever headers its client adds (OpenAI's SDK sends
  // x-stainless-*) may come along with the two the API needs.
  const requested = (req.headers['access-control-request-headers'] ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => HEADER_NAME.test(h));
  const headers = [...new Set(['authorization', 'content-type', ...requested])];
  res.writeHead(204, {
    'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
    'Access-Control-Allow-Headers': headers.join(', '),
    'Access-Control-Max-Age': String(PREFLIGHT_MAX_AGE_S),
  });
  res.end();
}
