// Who may talk to the server: the Host header (DNS rebinding), the Origin header (web pages), CORS opt-in,
// the API key and the JSON content type. All of it is decided before a request reaches the engine, so the
// engine here is a stub that fails the request if it is ever touched.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../engine.ts';
import { rawRequest, type RawResponse } from './raw-request.ts';
import { startServer, type OpenAiServer, type ServerOptions } from './server.ts';

// Only its cache's shape may be read: /health reports the cache's size.
const untouchable = new Proxy({} as Engine, {
  get(_target, name) {
    if (name === 'model') return { cache: { shape: { pages: 64, pageSize: 16, maxLength: 1024 } } };
    throw new Error(`the engine was reached (engine.${String(name)}) by a request that should have been refused`);
  },
});

const servers: OpenAiServer[] = [];
async function serve(options: ServerOptions = {}): Promise<OpenAiServer> {
  const s = await startServer(untouchable, { port: 0, modelId: 'stub', ...options });
  servers.push(s);
  return s;
}
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

const CHAT = '/v1/chat/completions';
const JSON_HEADERS = { 'content-type': 'application/json' };

function errorOf(res: RawResponse): { message: string; type: string; param: string | null; code: string | null } {
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  return JSON.parse(res.body).error;
}

let local: OpenAiServer;
beforeAll(async () => {
  local = await serve();
});

describe('the Host header (DNS rebinding)', () => {
  it.each(['localhost', '127.0.0.1', '[::1]', 'app.localhost', '10.1.2.3', '[fe80::1]', 'LOCALHOST'])('%s is served', async (name) => {
    const res = await rawRequest(`${local.url}/v1/models`, { headers: { host: `${name}:${local.port}` } });
    expect(res.status).toBe(200);
  });

  it('a name that is not this machine is refused with 403 naming it, before anything else', async () => {
    for (const [method, path] of [['GET', '/v1/models'], ['GET', '/health'], ['POST', CHAT], ['GET', '/nothing']]) {
      const res = await rawRequest(`${local.url}${path}`, { method, headers: { host: `rebind.attacker.example:${local.port}`, ...JSON_HEADERS }, body: method === 'POST' ? '{}' : undefined });
      expect(res.status).toBe(403);
      const error = errorOf(res);
      expect(error).toMatchObject({ type: 'invalid_request_error', code: 'host_not_allowed', param: null });
      expect(error.message).toContain('rebind.attacker.example');
    }
  });

  it('a long foreign Host is cut short in the message', async () => {
    const res = await rawRequest(`${local.url}/v1/models`, { headers: { host: `${'a'.repeat(5000)}.example` } });
    expect(res.status).toBe(403);
    expect(errorOf(res).message.length).toBeLessThan(400);
  });

  it('allowedHosts adds names; "*" accepts any', async () => {
    const named = await serve({ allowedHosts: ['api.lan'] });
    expect((await rawRequest(`${named.url}/v1/models`, { headers: { host: 'API.lan:1234' } })).status).toBe(200);
    expect((await rawRequest(`${named.url}/v1/models`, { headers: { host: 'other.lan' } })).status).toBe(403);
    const any = await serve({ allowedHosts: ['*'] });
    expect((await rawRequest(`${any.url}/v1/models`, { headers: { host: 'whatever.example' } })).status).toBe(200);
  });

  it('with an API key any Host is served (a rebinding page cannot know the key)', async () => {
    const keyed = await serve({ apiKey: 'k' });
    const res = await rawRequest(`${keyed.url}/v1/models`, { headers: { host: 'my-box.example', authorization: 'Bearer k' } });
    expect(res.status).toBe(200);
  });
});

describe('the Origin header (web pages)', () => {
  it('a foreign page is refused with 403, GET and POST alike', async () => {
    for (const method of ['GET', 'POST']) {
      const res = await rawRequest(`${local.url}${method === 'GET' ? '/v1/models' : CHAT}`, { method, headers: { origin: 'http://evil.example', ...JSON_HEADERS }, body: method === 'POST' ? '{}' : undefined });
      expect(res.status).toBe(403);
      expect(errorOf(res)).toMatchObject({ code: 'origin_not_allowed' });
      expect(errorOf(res).message).toContain('http://evil.example');
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
    }
  });

  it('"null" origins (sandboxed frames, file: pages) are refused', async () => {
    expect((await rawRequest(`${local.url}/v1/models`, { headers: { origin: 'null' } })).status).toBe(403);
  });

  it('the server\'s own origin is allowed, without CORS headers', async () => {
    const res = await rawRequest(`${local.url}/v1/models`, { headers: { origin: local.url } });
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('POST bodies must be JSON', () => {
  it.each([
    ['text/plain (what a page can send cross-origin without a preflight)', 'text/plain;charset=UTF-8'],
    ['a form', 'application/x-www-form-urlencoded'],
    ['no content type', undefined],
  ])('%s -> 415', async (_what, type) => {
    const res = await rawRequest(`${local.url}${CHAT}`, {
      method: 'POST',
      headers: type ? { 'content-type': type } : {},
      body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(415);
    expect(errorOf(res)).toMatchObject({ type: 'invalid_request_error', code: 'unsupported_media_type', param: null });
  });

  it('application/json with a charset passes on to the body checks', async () => {
    const res = await rawRequest(`${local.url}${CHAT}`, { method: 'POST', headers: { 'content-type': 'Application/JSON; charset=utf-8' }, body: '{}' });
    expect(res.status).toBe(400);
    expect(errorOf(res).param).toBe('messages');
  });
});

describe('CORS, opted into with corsOrigins', () => {
  let cors: OpenAiServer;
  beforeAll(async () => {
    cors = await serve({ corsOrigins: ['http://app.example:3000', 'https://chat.example'] });
  });

  it('an allowed origin is echoed, with Vary: Origin', async () => {
    const res = await rawRequest(`${cors.url}/v1/models`, { headers: { origin: 'http://app.example:3000' } });
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe('http://app.example:3000');
    expect(res.headers.vary).toMatch(/origin/i);
    // errors carry it too, or the page could not read why it was refused
    const bad = await rawRequest(`${cors.url}${CHAT}`, { method: 'POST', headers: { origin: 'https://chat.example', ...JSON_HEADERS }, body: '{}' });
    expect(bad.status).toBe(400);
    expect(bad.headers['access-control-allow-origin']).toBe('https://chat.example');
  });

  it('a preflight from an allowed origin gets 204 with the methods, headers and max-age', async () => {
    const res = await rawRequest(`${cors.url}${CHAT}`, {
      method: 'OPTIONS',
      headers: { origin: 'https://chat.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, x-stainless-lang' },
    });
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('https://chat.example');
    expect(res.headers['access-control-allow-methods']).toMatch(/POST/);
    const allowed = String(res.headers['access-control-allow-headers']).toLowerCase();
    for (const h of ['authorization', 'content-type', 'x-stainless-lang']) expect(allowed).toContain(h);
    expect(Number(res.headers['access-control-max-age'])).toBeGreaterThan(0);
    expect(res.headers.vary).toMatch(/origin/i);
  });

  it('a preflight or request from any other origin is refused with 403', async () => {
    const pre = await rawRequest(`${cors.url}${CHAT}`, { method: 'OPTIONS', headers: { origin: 'http://app.example:3001', 'access-control-request-method': 'POST' } });
    expect(pre.status).toBe(403);
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
    expect((await rawRequest(`${cors.url}/v1/models`, { headers: { origin: 'http://evil.example' } })).status).toBe(403);
  });

  it('"*" lets any page in', async () => {
    const any = await serve({ corsOrigins: ['*'] });
    const res = await rawRequest(`${any.url}/v1/models`, { headers: { origin: 'http://anything.example' } });
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe('http://anything.example');
  });

  it('an origin that is not scheme://host[:port] is a startup error', async () => {
    await expect(serve({ corsOrigins: ['app.example/path'] })).rejects.toThrow(/corsOrigins/);
  });
});

describe('the API key', () => {
  let keyed: OpenAiServer;
  beforeAll(async () => {
    keyed = await serve({ apiKey: 'sk-local-secret', corsOrigins: ['http://app.example'] });
  });

  it.each([
    ['no Authorization header', undefined],
    ['a wrong key', 'Bearer sk-local-secreT'],
    ['a longer key', 'Bearer sk-local-secret-and-more'],
    ['another scheme', 'Basic c2stbG9jYWwtc2VjcmV0'],
  ])('%s -> 401 invalid_api_key on every /v1 route', async (_what, authorization) => {
    for (const [method, path] of [['GET', '/v1/models'], ['POST', CHAT], ['POST', '/v1/completions'], ['GET', '/v1/nothing']]) {
      const headers: Record<string, string> = { ...JSON_HEADERS, ...(authorization ? { authorization } : {}) };
      const res = await rawRequest(`${keyed.url}${path}`, { method, headers, body: method === 'POST' ? '{}' : undefined });
      expect(res.status).toBe(401);
      expect(JSON.parse(res.body)).toEqual({ error: { message: expect.any(String), type: 'invalid_request_error', param: null, code: 'invalid_api_key' } });
      expect(res.body).not.toContain('sk-local-secret');
    }
  });

  it('the right key is served; /health stays open; preflights need no key', async () => {
    expect((await rawRequest(`${keyed.url}/v1/models`, { headers: { authorization: 'Bearer sk-local-secret' } })).status).toBe(200);
    expect((await rawRequest(`${keyed.url}/v1/models`, { headers: { authorization: 'bearer sk-local-secret' } })).status).toBe(200);
    expect((await rawRequest(`${keyed.url}/health`)).status).toBe(200);
    const pre = await rawRequest(`${keyed.url}${CHAT}`, { method: 'OPTIONS', headers: { origin: 'http://app.example', 'access-control-request-method': 'POST' } });
    expect(pre.status).toBe(204);
  });
});
