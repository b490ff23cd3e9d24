// The demo's static server against hostile requests: symlinks out of its folder, path traversal in its
// encoded forms, foreign Host headers, and byte ranges at the edges RFC 9110 defines.
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest } from '../src/server/raw-request.ts';
import { parseRange, startStaticServer, type StaticServer } from './static-server.ts';

let scratch: string;
let root: string;
let server: StaticServer;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'static-server-'));
  root = join(scratch, 'root');
  await mkdir(join(root, 'sub'), { recursive: true });
  await writeFile(join(root, 'empty.bin'), new Uint8Array(0));
  await writeFile(join(root, 'ten.bin'), Uint8Array.from({ length: 10 }, (_, i) => 48 + i)); // "0123456789"
  await writeFile(join(root, 'sub', 'inner.txt'), 'inner');
  await writeFile(join(scratch, 'secret.txt'), 'secret');
  await symlink('/etc', join(root, 'etc-link'));
  await symlink(join(scratch, 'secret.txt'), join(root, 'secret-link.txt'));
  await symlink(join(root, 'sub', 'inner.txt'), join(root, 'inner-link.txt'));
  server = await startStaticServer({ mounts: { '/': root, '/via-link/': join(root, 'sub') } });
});
afterAll(async () => {
  await server?.close();
  await rm(scratch, { recursive: true, force: true });
});

const get = (path: string, headers: Record<string, string> = {}) => rawRequest(server.origin, { path, headers });

describe('symlinks', () => {
  it('a link to a folder or file outside the served folder is not followed', async () => {
    for (const path of ['/etc-link/passwd', '/etc-link/hostname', '/secret-link.txt']) {
      const res = await get(path);
      expect(res.status, path).toBe(403);
      expect(res.body).not.toContain('root:');
      expect(res.body).not.toContain('secret');
    }
  });

  it('a link that stays inside is served', async () => {
    expect(await get('/inner-link.txt')).toMatchObject({ status: 200, body: 'inner' });
  });
});

describe('path traversal', () => {
  it.each(['/../secret.txt', '/sub/../../secret.txt', '/%2e%2e/secret.txt', '/%2E%2E%2fsecret.txt', '/sub%2f..%2f..%2fsecret.txt', '/sub%5c..%5c..%5csecret.txt', '/ten.bin%00.txt', '/./ten.bin'])(
    '%s is refused with 400',
    async (path) => {
      const res = await get(path);
      expect(res.status).toBe(400);
      expect(res.body).not.toContain('secret');
    },
  );

  it('ordinary escapes still work', async () => {
    await writeFile(join(root, 'a b.txt'), 'spaced');
    expect(await get('/a%20b.txt')).toMatchObject({ status: 200, body: 'spaced' });
  });
});

describe('the Host header', () => {
  it('a foreign name is refused with 403; localhost and IP addresses are served', async () => {
    expect((await get('/ten.bin', { host: 'rebind.attacker.example' })).status).toBe(403);
    for (const host of ['localhost:1', '127.0.0.1', '[::1]:80']) expect((await get('/ten.bin', { host })).status, host).toBe(200);
  });
});

describe('byte ranges (RFC 9110)', () => {
  it.each([
    ['bytes=0-3', 206, 'bytes 0-3/10', '0123'],
    ['bytes=7-', 206, 'bytes 7-9/10', '789'],
    ['bytes=-3', 206, 'bytes 7-9/10', '789'],
    ['bytes=-50', 206, 'bytes 0-9/10', '0123456789'], // a suffix longer than the file is the whole file
    ['bytes=5-500', 206, 'bytes 5-9/10', '56789'],
    ['Bytes=1-1', 206, 'bytes 1-1/10', '1'], // the unit is case-insensitive
    ['bytes=10-', 416, 'bytes */10', ''],
    ['bytes=10-20', 416, 'bytes */10', ''],
    ['bytes=-0', 416, 'bytes */10', ''],
    ['bytes=5-3', 200, undefined, '0123456789'], // malformed: ignored
    ['bytes=abc', 200, undefined, '0123456789'],
    ['items=0-1', 200, undefined, '0123456789'],
    ['bytes=-', 200, undefined, '0123456789'],
    ['bytes=0-1,4-5', 200, undefined, '0123456789'], // several ranges: the whole file
  ])('%s on 10 bytes -> %i %s', async (range, status, contentRange, body) => {
    const res = await get('/ten.bin', { range });
    expect(res.status).toBe(status);
    expect(res.headers['content-range']).toBe(contentRange);
    expect(res.body).toBe(body);
    if (status !== 416) expect(res.headers['content-length']).toBe(String(body.length));
  });

  it.each([
    ['bytes=0-0', 416, 'bytes */0'],
    ['bytes=0-', 416, 'bytes */0'],
    ['bytes=-5', 200, undefined],
    ['bytes=abc', 200, undefined],
  ])('%s on an empty file -> %i %s', async (range, status, contentRange) => {
    const res = await get('/empty.bin', { range });
    expect(res.status).toBe(status);
    expect(res.headers['content-range']).toBe(contentRange);
    expect(res.body).toBe('');
  });

  it('parseRange never returns a range outside the file', () => {
    for (const size of [0, 1, 10]) {
      for (const header of ['bytes=-1', 'bytes=-5', 'bytes=0-', 'bytes=0-0', 'bytes=3-', 'bytes=9-99', 'bytes=99999999999999999999-']) {
        const r = parseRange(header, size);
        if (Array.isArray(r)) expect(r[0] <= r[1] && r[0] >= 0 && r[1] < size, `${header} on ${size}: ${r}`).toBe(true);
      }
    }
  });
});
