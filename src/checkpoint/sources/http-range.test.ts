// The HTTP range reader against tools/static-server.ts (the demo's server): the fixture checkpoint read over
// HTTP equals the one read from disk, and every failure (404, a server that ignores Range, short bodies,
// hidden Content-Range, a dead server) is a CheckpointError naming the URL.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStaticServer, type StaticServer } from '../../../tools/static-server.ts';
import { CheckpointError, excerpt } from '../../errors.ts';
import { openCheckpoint } from '../checkpoint.ts';
import { httpFolder, openHttpFile } from './http-range.ts';
import { openCheckpointDir } from './node-file.ts';

const FIXTURE = 'kernels-test/fixtures/tiny-v3';

let server: StaticServer;
let noRanges: StaticServer;
let scratch: string;
const requests: { method: string; url: string; status: number }[] = [];

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'http-range-'));
  await writeFile(join(scratch, 'empty.bin'), new Uint8Array(0));
  await writeFile(join(scratch, 'ten.bin'), Uint8Array.from({ length: 10 }, (_, i) => i));
  const mounts = { '/fx/': 'kernels-test/fixtures', '/scratch/': scratch };
  server = await startStaticServer({ mounts, onRequest: (method, url, status) => requests.push({ method, url, status }) });
  noRanges = await startStaticServer({ mounts, ranges: false });
});
afterAll(async () => {
  await server?.close();
  await noRanges?.close();
  await rm(scratch, { recursive: true, force: true });
});

// (toEqual on megabyte typed arrays takes seconds)
const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);

/** Expects a CheckpointError whose message names `url` and matches `pattern`. */
async function expectError(promise: Promise<unknown>, url: string, pattern: RegExp): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CheckpointError);
  expect((err as Error).message).toContain(url);
  expect((err as Error).message).toMatch(pattern);
}

describe('httpFolder over a range-capable server', () => {
  it('reads the fixture checkpoint byte for byte as from disk, one range request per read', async () => {
    const base = `${server.origin}/fx/tiny-v3`; // no trailing slash: resolved as a folder anyway
    const overHttp = await openCheckpoint(httpFolder(base));
    const onDisk = await openCheckpointDir(FIXTURE);
    expect(overHttp.names()).toEqual(onDisk.names());
    requests.length = 0;
    for (const name of overHttp.names().filter((_, i) => i % 7 === 0)) {
      expect(sameBytes(await overHttp.read(name), await onDisk.read(name)), name).toBe(true);
      const info = overHttp.info(name);
      expect(info.file).toMatch(new RegExp(`^${server.origin}/fx/tiny-v3/model-0000\\d-of-000003\\.safetensors$`));
    }
    // A piece of a tensor, as the weight upload streams large ones.
    const big = overHttp.names().find((n) => overHttp.info(n).end - overHttp.info(n).begin > 1000)!;
    expect(sameBytes(await overHttp.read(big, 100, 900), await onDisk.read(big, 100, 900))).toBe(true);
    expect(requests.every((r) => r.method === 'GET' && r.status === 206)).toBe(true);
    await overHttp.close();
    await onDisk.close();
  });

  it('readText and exists', async () => {
    const folder = httpFolder(`${server.origin}/fx/tiny-v3/`);
    expect(JSON.parse(await folder.readText('config.json')).model_type).toBe('deepseek_v3');
    expect(await folder.exists('config.json')).toBe(true);
    expect(await folder.exists('tokenizer.json')).toBe(false);
    await expectError(folder.readText('nope.json'), `${server.origin}/fx/tiny-v3/nope.json`, /HTTP 404/);
  });

  it('sizes files from Content-Range, empty ones included, and refuses reads outside them', async () => {
    const ten = await openHttpFile(`${server.origin}/scratch/ten.bin`);
    expect(ten.size).toBe(10);
    expect(Array.from(await ten.read(3, 4))).toEqual([3, 4, 5, 6]);
    expect(await ten.read(10, 0)).toEqual(new Uint8Array(0));
    await expectError(ten.read(8, 3), `${server.origin}/scratch/ten.bin`, /outside the file's 10 bytes/);
    const empty = await openHttpFile(`${server.origin}/scratch/empty.bin`);
    expect(empty.size).toBe(0);
  });

  it('a missing shard is a 404 naming its URL', async () => {
    const url = `${server.origin}/fx/tiny-v3/model-00009-of-000003.safetensors`;
    await expectError(httpFolder(`${server.origin}/fx/tiny-v3/`).open('model-00009-of-000003.safetensors'), url, /HTTP 404.*no such file/);
    await expectError(openCheckpoint(httpFolder(`${server.origin}/fx/missing/`)), `${server.origin}/fx/missing/`, /neither model.safetensors.index.json nor model.safetensors/);
  });
});

describe('httpFolder failures', () => {
  it('a server that ignores Range is refused when the file is opened', async () => {
    const url = `${noRanges.origin}/fx/tiny-v3/model-00001-of-000003.safetensors`;
    await expectError(openHttpFile(url), url, /does not support range requests/);
  });

  it('a short body is a short read naming the range', async () => {
    const url = `${server.origin}/scratch/ten.bin`;
    const truncating: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (response.status !== 206 || (init?.headers as Record<string, string>).Range === 'bytes=0-0') return response;
      const body = new Uint8Array(await response.arrayBuffer()).subarray(0, 2);
      return new Response(body, { status: 206, headers: response.headers });
    };
    const file = await openHttpFile(url, { fetch: truncating });
    await expectError(file.read(2, 5), url, /short read: asked for 5 bytes at 2 \(bytes 2-6\), the server sent 2/);
  });

  it('a range answer without a readable Content-Range (CORS) says what to expose', async () => {
    const url = `${server.origin}/scratch/ten.bin`;
    const hiding: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      const headers = new Headers(response.headers);
      headers.delete('content-range');
      return new Response(response.body, { status: response.status, headers });
    };
    await expectError(openHttpFile(url, { fetch: hiding }), url, /Access-Control-Expose-Headers/);
  });

  it('a file that shrank on the server since it was opened is reported as truncated', async () => {
    const url = `${server.origin}/scratch/ten.bin`;
    const file = await openHttpFile(url);
    await writeFile(join(scratch, 'ten.bin'), new Uint8Array(4));
    try {
      await expectError(file.read(6, 4), url, /truncated/);
    } finally {
      await writeFile(join(scratch, 'ten.bin'), Uint8Array.from({ length: 10 }, (_, i) => i));
    }
  });

  it('an unreachable server is a fetch failure naming the URL', async () => {
    const dead = await startStaticServer({ mounts: {} });
    const origin = dead.origin;
    await dead.close();
    await expectError(httpFolder(`${origin}/m/`).open('config.json'), `${origin}/m/config.json`, /fetch failed/);
  });
});

describe('httpFolder never leaves its folder', () => {
  /** A fetch that records every URL and the Authorization it carried. */
  function spyFetch(): { fetch: typeof fetch; seen: { url: string; auth: string | undefined }[] } {
    const seen: { url: string; auth: string | undefined }[] = [];
    return {
      seen,
      fetch: async (input, init) => {
        seen.push({ url: String(input), auth: (init?.headers as Record<string, string>)?.Authorization });
        return fetch(input, init);
      },
    };
  }

  it('an index naming a shard on another host or outside the folder is refused before any request for it', async () => {
    const elsewhere = `${noRanges.origin}/fx/tiny-v3/model-00001-of-000003.safetensors`;
    for (const shard of [elsewhere, '//127.0.0.1:1/x.safetensors', '%2e%2e/tiny-v3/model-00001-of-000003.safetensors', '..%2Fsecret']) {
      const dir = join(scratch, 'hostile');
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'w.weight': shard } }));
      const spy = spyFetch();
      const folder = httpFolder(`${server.origin}/scratch/hostile/`, { fetch: spy.fetch, headers: { Authorization: 'Bearer secret' } });
      const err = await openCheckpoint(folder).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(CheckpointError);
      expect((err as CheckpointError).file).toBe('model.safetensors.index.json');
      expect((err as Error).message).toContain(excerpt(shard));
      expect(spy.seen.every((r) => r.url.startsWith(`${server.origin}/scratch/hostile/`))).toBe(true);
    }
  });

  it('the folder itself refuses names that resolve outside it, without sending a request', async () => {
    const spy = spyFetch();
    const folder = httpFolder(`${server.origin}/fx/tiny-v3/`, { fetch: spy.fetch, headers: { Authorization: 'Bearer secret' } });
    for (const name of [`${noRanges.origin}/x`, '//evil.example/x', '../tiny-v2lite/config.json', '%2e%2e/x', '/fx/x']) {
      await expect(folder.open(name)).rejects.toThrow(/resolves outside the checkpoint folder/);
      await expect(folder.readText(name)).rejects.toThrow(CheckpointError);
      await expect(folder.exists(name)).rejects.toThrow(CheckpointError);
    }
    expect(spy.seen).toEqual([]);
  });
});
