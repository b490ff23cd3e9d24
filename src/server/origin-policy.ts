// Which Host and Origin headers a local server answers, shared by the API server and tools/static-server.ts.
// No Node imports: only strings and URL, so nothing here drags node: modules into a browser bundle.
//
// Host: a web page can point a DNS name it controls at 127.0.0.1 (DNS rebinding) and then read this server's
// answers as same-origin. Its requests carry that name in Host, so only names that cannot be rebound pass:
//   - loopback names: localhost and *.localhost (browsers resolve these to loopback themselves, RFC 6761);
//   - IP literals (127.0.0.1, [::1], 192.168.1.5): a page at an IP literal was loaded from that address,
//     which is this server, so no rebinding is involved;
//   - the name the server was bound to (`--host my-box.lan`) and the names of `allowedHosts`;
//   - any name when `allowedHosts` holds '*' or when requests must carry an API key anyway (a rebinding
//     page does not know the key).
// The port is not compared: port forwarding (docker -p 9000:8080) legitimately changes it.
//
// Origin: absent for non-browser clients (curl, SDKs), which pass. A browser sends it on cross-origin
// requests and on same-origin POSTs: the server's own origin (the one in Host) passes, as do the origins of
// `corsOrigins` ('*': all); anything else, 'null' included (sandboxed frames, file: pages), is refused.
import { truncateForMessage } from './api-error.ts';

export interface OriginPolicyOptions {
  /** The address or name the server is bound to. */
  boundHost: string;
  /** Host names accepted besides the defaults above; '*' accepts any. */
  allowedHosts?: readonly string[];
  /** Origins (scheme://host[:port]) whose pages may call the server; '*' allows any. */
  corsOrigins?: readonly string[];
  /** Requests must prove a secret (an API key), so the Host check is moot. */
  authenticated?: boolean;
}

/** A refusal, with the header that caused it (already shortened for messages). */
export interface Refusal {
  reason: 'host' | 'origin';
  message: string;
}

export class OriginPolicy {
  private readonly anyHost: boolean;
  private readonly hosts: Set<string>;
  private readonly anyOrigin: boolean;
  private readonly origins: Set<string>;

  constructor(options: OriginPolicyOptions) {
    const allowed = options.allowedHosts ?? [];
    this.anyHost = Boolean(options.authenticated) || allowed.includes('*');
    this.hosts = new Set([options.boundHost, ...allowed].map(hostName));
    const cors = options.corsOrigins ?? [];
    this.anyOrigin = cors.includes('*');
    this.origins = new Set(
      cors
        .filter((o) => o !== '*')
        .map((o) => {
          const normal = normalizeOrigin(o);
          if (normal === null) throw new RangeError(`corsOrigins: '${truncateForMessage(o)}' is not an origin (scheme://host[:port], or '*')`);
          return normal;
        }),
    );
  }

  /** Whether pages of other origins may be let in at all (CORS answers are worth sending). */
  get corsEnabled(): boolean {
    return this.anyOrigin || this.origins.size > 0;
  }

  /** null when the Host header is acceptable. */
  checkHost(host: string | undefined): Refusal | null {
    if (host === undefined || this.anyHost) return null; // HTTP/1.0 clients send none; browsers always do
    const name = hostName(host);
    if (name === 'localhost' || name.endsWith('.localhost') || isIpLiteral(name) || this.hosts.has(name)) return null;
    return {
      reason: 'host',
      message: `Host '${truncateForMessage(host)}' is not a name of this server; address it as localhost or by IP address, or allow the name when starting the server (serve: --allow-host NAME, or --api-key).`,
    };
  }

  /**
   * What to do about an Origin header: null = no browser page involved or the server's own page; a string =
   * a page of another origin that is allowed (echo it in Access-Control-Allow-Origin); a Refusal otherwise.
   */
  checkOrigin(origin: string | undefined, host: string | undefined): Refusal | string | null {
    if (origin === undefined) return null;
    const normal = normalizeOrigin(origin);
    if (normal !== null && host !== undefined && sameHost(normal, host)) return null;
    if (this.anyOrigin || (normal !== null && this.origins.has(normal))) return origin;
    return {
      reason: 'origin',
      message: `Origin '${truncateForMessage(origin)}' is not allowed to use this server (start it with --cors ORIGIN to let a web page call it).`,
    };
  }
}

/** `scheme://host[:port]` in canonical form (lower case, default port dropped), 'null' as is; null if neither. */
export function normalizeOrigin(origin: string): string | null {
  if (origin === 'null') return origin;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return null;
  }
  if (!/^https?:$/.test(url.protocol) || url.username || url.password) return null;
  // An origin has no path, query or fragment; a trailing slash is the only leniency.
  if (url.pathname !== '/' || url.search || url.hash) return null;
  return url.origin;
}

/** Whether an origin names the same host and port as a Host header (the page came from this server). */
function sameHost(origin: string, host: string): boolean {
  if (origin === 'null') return false;
  try {
    const scheme = origin.slice(0, origin.indexOf('//'));
    return new URL(`${scheme}//${host}`).host === new URL(origin).host;
  } catch {
    return false;
  }
}

/** The name of a Host header (`[::1]:8080` -> `[::1]`, `Example.COM.:80` -> `example.com`). */
function hostName(host: string): string {
  const h = host.trim().toLowerCase();
  const name = h.startsWith('[') ? h.slice(0, h.indexOf(']') + 1) : h.replace(/:\d*$/, '');
  // A bound IPv6 address comes without brackets; Host headers carry them.
  const bracketed = name.includes(':') && !name.startsWith('[') ? `[${name}]` : name;
  return bracketed.replace(/\.$/, '');
}

function isIpLiteral(name: string): boolean {
  if (/^\[[0-9a-f:.]+\]$/.test(name)) return true;
  const parts = name.split('.');
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}
