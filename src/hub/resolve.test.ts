import { mkdir, mkdtemp, readdir, readFile, readlink, lstat, rm, symlink, writeFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CheckpointError, HubError } from '../errors.ts';
import { loadModel } from '../engine-node.ts';
import { resolveModel, type ResolveModelOptions } from './resolve.ts';
import { etagOf, isLfs, repoFromFolder, sha256, startTestHub, type TestHub, type TestRepo } from './test-hub.ts';

const TINY = repoFromFolder('test-org', 'tiny-v3', 'weights/tiny-v3-trained');
/** What the engine needs from the folder; README.md and golden.* stay on the hub. */
const NEEDED = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors.index.json', 'model-00001-of-000002.safetensors', 'model-00002-of-000002.safetensors'];
const SHARD = 'model-00001-of-000002.safetensors';

/** A one-shard repository whose index is given, for refused names. */
function repoWithIndex(name: string, weightMap: Record<string, string>): TestRepo {
  const files = new Map<string, Uint8Array>([
    ['config.json', TINY.files.get('config.json')!],
    ['model.safetensors.index.json', new TextEncoder().encode(JSON.stringify({ metadata: {}, weight_map: weightMap }))],
    [SHARD, TINY.files.get(SHARD)!],
  ]);
  return { owner: 'test-org', name, files };
}

const PRIVATE: TestRepo = { ...repoFromFolder('test-org', 'private', 'kernels-test/fixtures/tiny-v2lite'), token: 'hf_sEcReT123' };
const EVIL = repoWithIndex('evil', { 'model.embed_tokens.weight': '../../../outside.safetensors' });
const ABSENT_SHARD = repoWithIndex('absent-shard', { 'model.embed_tokens.weight': 'model-00009-of-000009.safetensors' });

let hub: TestHub;
let cacheDir: string;

beforeAll(async () => {
  hub = await startTestHub([TINY, PRIVATE, EVIL, ABSENT_SHARD], { 'old-org/tiny-old': 'test-org/tiny-v3' });
});
afterAll(() => hub.close());
beforeEach(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), 'hub-cache-'));
  hub.requests.length = 0;
  for (const key of Object.keys(hub.faults)) delete hub.faults[key as keyof typeof hub.faults];
});
afterEach(() => rm(cacheDir, { recursive: true, force: true }));

/** resolveModel against the test hub with an empty environment (never the real ~/.cache or HF_TOKEN). */
function resolve(id: string, options: ResolveModelOptions = {}) {
  return resolveModel(id, { env: {}, cacheDir, endpoint: hub.endpoint, retryDelayMs: 1, ...options });
}

const repoRoot = () => join(cacheDir, 'models--test-org--tiny-v3');
const blobs = () => readdir(join(repoRoot(), 'blobs'));

describe('resolveModel from the hub', () => {
  it("downloads the engine's files into huggingface_hub's cache layout: blobs by etag, relative snapshot links, refs/main", async () => {
    const progress: [number, number][] = [];
    const resolved = await resolve('test-org/tiny-v3', { onProgress: (done, total) => progress.push([done, total]) });
    const commit = hub.commitOf(TINY);
    expect(resolved.dir).toBe(join(repoRoot(), 'snapshots', commit));
    expect(progress.at(-1)).toEqual([resolved.downloadedBytes, resolved.downloadedBytes]);
    expect(progress.every(([done, total], i) => done <= total && (i === 0 || done >= progress[i - 1]![0]))).toBe(true);
    expect(resolved.commit).toBe(commit);
    expect(resolved.downloaded.sort()).toEqual([...NEEDED].sort());
    expect(resolved.downloadedBytes).toBe(NEEDED.reduce((sum, f) => sum + TINY.files.get(f)!.length, 0));
    expect(await readFile(join(repoRoot(), 'refs', 'main'), 'utf8')).toBe(commit); // no newline, as huggingface_hub writes it
    expect((await readdir(resolved.dir)).sort()).toEqual([...NEEDED].sort());
    for (const file of NEEDED) {
      const bytes = TINY.files.get(file)!;
      const link = join(resolved.dir, file);
      expect((await lstat(link)).isSymbolicLink()).toBe(true);
      expect(await readlink(link)).toBe(`../../blobs/${etagOf(file, bytes)}`);
      expect(Buffer.compare(await readFile(link), bytes)).toBe(0);
    }
    expect((await blobs()).sort()).toEqual(NEEDED.map((f) => etagOf(f, TINY.files.get(f)!)).sort()); // no .incomplete left
    // LFS files come from the CDN, other files from the resolve URL itself; one HEAD per file.
    expect(hub.requests.filter((r) => r.server === 'cdn').length).toBe(NEEDED.filter(isLfs).length);
    expect(hub.requests.filter((r) => r.method === 'HEAD').length).toBe(NEEDED.length);
  });

  it('two resolves at once (two processes pulling one model) download each file once: one waits on its lock', async () => {
    const [a, b] = await Promise.all([resolve('test-org/tiny-v3'), resolve('test-org/tiny-v3')]);
    expect(a.dir).toBe(b.dir);
    const gets = hub.requests.filter((r) => r.method === 'GET' && (r.server === 'cdn' || !r.path.startsWith('/api/')));
    expect(gets.length, 'each file fetched by one of them').toBe(NEEDED.length);
    expect((await blobs()).sort(), 'no lock or partial file left').toEqual(NEEDED.map((f) => etagOf(f, TINY.files.get(f)!)).sort());
    for (const file of NEEDED) expect(Buffer.compare(await readFile(join(a.dir, file)), TINY.files.get(file)!)).toBe(0);
  });

  it('a second resolve asks only for the listing; offline or with the hub unreachable it asks nothing', async () => {
    const first = await resolve('test-org/tiny-v3');
    hub.requests.length = 0;
    const again = await resolve('test-org/tiny-v3');
    expect(again.dir).toBe(first.dir);
    expect(again.downloaded).toEqual([]);
    expect(hub.requests.map((r) => r.path)).toEqual(['/api/models/test-org/tiny-v3/revision/main']);

    hub.requests.length = 0;
    const offline = await resolve('test-org/tiny-v3', { env: { HF_HUB_OFFLINE: '1' } });
    expect(offline).toMatchObject({ dir: first.dir, fromCacheOnly: true, commit: hub.commitOf(TINY) });
    expect(hub.requests).toEqual([]);

    const notes: string[] = [];
    const unreachable = await resolve('test-org/tiny-v3', { endpoint: 'http://127.0.0.1:9', attempts: 1, onNote: (t) => notes.push(t) });
    expect(unreachable.dir).toBe(first.dir);
    expect(notes).toEqual([expect.stringMatching(/could not reach the hub .*using the cached snapshot [0-9a-f]{40}/)]);
  });

  it('reuses a cache written by huggingface_hub: snapshot links with no request, blobs already there with a HEAD only', async () => {
    // What transformers leaves after from_pretrained: every blob, links to all but one file, refs/main.
    const commit = hub.commitOf(TINY);
    await mkdir(join(repoRoot(), 'blobs'), { recursive: true });
    await mkdir(join(repoRoot(), 'snapshots', commit), { recursive: true });
    await mkdir(join(repoRoot(), 'refs'), { recursive: true });
    await writeFile(join(repoRoot(), 'refs', 'main'), commit);
    for (const file of NEEDED) {
      await writeFile(join(repoRoot(), 'blobs', etagOf(file, TINY.files.get(file)!)), TINY.files.get(file)!);
      if (file !== SHARD) await symlink(`../../blobs/${etagOf(file, TINY.files.get(file)!)}`, join(repoRoot(), 'snapshots', commit, file));
    }
    const resolved = await resolve('test-org/tiny-v3');
    expect(resolved.downloaded).toEqual([]);
    expect(resolved.reused).toEqual([SHARD]);
    expect(hub.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /api/models/test-org/tiny-v3/revision/main',
      `HEAD /test-org/tiny-v3/resolve/${commit}/${SHARD}`,
    ]);
    expect(await readlink(join(resolved.dir, SHARD))).toBe(`../../blobs/${sha256(TINY.files.get(SHARD)!)}`);
  });

  it('offline with nothing cached, or a shard missing, fails naming the repository and what to run', async () => {
    await expect(resolve('test-org/tiny-v3', { offline: true })).rejects.toThrow(
      /test-org\/tiny-v3: HF_HUB_OFFLINE is set, and the Hugging Face cache .* has no snapshot of revision main: run `deepseek-webgpu pull test-org\/tiny-v3` with network access first/,
    );
    const { dir } = await resolve('test-org/tiny-v3');
    await rm(join(dir, SHARD));
    await expect(resolve('test-org/tiny-v3', { offline: true })).rejects.toThrow(new RegExp(`cached snapshot .* lacks ${SHARD}`));
    expect(hub.requests.filter((r) => r.method === 'GET' && r.server === 'hub').length).toBe(1 + NEEDED.filter((f) => !isLfs(f)).length);
  });

  // A cut connection loses what the client had received but not yet written (a failed fetch body drops its
  // queue), so the resumes start at or a little before the cut: the tests read the starts, not fixed offsets.
  it('resumes a transfer cut midway (twice) with Range requests, and verifies the whole', async () => {
    hub.faults.dropAfter = 1 << 20;
    hub.faults.drops = 2;
    const resolved = await resolve('test-org/tiny-v3');
    const starts = hub.requests.filter((r) => r.server === 'cdn' && r.range).map((r) => [Number(r.range!.match(/^bytes=(\d+)-$/)![1]), r.status]);
    expect(starts).toEqual([
      [expect.any(Number), 206],
      [expect.any(Number), 206],
    ]);
    const [first, second] = starts.map(([start]) => start!);
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThanOrEqual(1 << 20);
    expect(second).toBeGreaterThan(first!); // the resumed transfer was cut too, further on
    expect(second).toBeLessThanOrEqual(first! + (1 << 20));
    for (const f of NEEDED.filter(isLfs)) expect(sha256(await readFile(join(resolved.dir, f)))).toBe(sha256(TINY.files.get(f)!));
  });

  it('an interrupted run keeps its .incomplete file and the next run resumes it', async () => {
    hub.faults.dropAfter = 3 << 18;
    hub.faults.drops = 1;
    const error = (await resolve('test-org/tiny-v3', { attempts: 1 }).catch((e: unknown) => e)) as HubError;
    expect(error).toBeInstanceOf(HubError);
    const [, shard, at] = error.message.match(/^test-org\/tiny-v3\/(model-0000[12]-of-000002.safetensors): the transfer broke off at byte (\d+) .*gave up after 1 attempts \(the \2 bytes received are kept in .*next run resumes/)!;
    const partial = `${sha256(TINY.files.get(shard!)!)}.incomplete`;
    expect((await stat(join(repoRoot(), 'blobs', partial))).size).toBe(Number(at));
    await expect(lstat(join(repoRoot(), 'refs', 'main'))).rejects.toThrow(); // no ref to an incomplete snapshot

    hub.requests.length = 0;
    const resolved = await resolve('test-org/tiny-v3', { attempts: 1 });
    expect(hub.requests.find((r) => r.server === 'cdn')).toMatchObject({ range: `bytes=${at}-`, status: 206 });
    expect(sha256(await readFile(join(resolved.dir, shard!)))).toBe(sha256(TINY.files.get(shard!)!));
    expect((await blobs()).filter((b) => b.endsWith('.incomplete'))).toEqual([]);
  });

  it('a complete .incomplete file meets 416 and is finished; a server that ignores Range (200) is read from the start', async () => {
    const bytes = TINY.files.get(SHARD)!;
    await mkdir(join(repoRoot(), 'blobs'), { recursive: true });
    await writeFile(join(repoRoot(), 'blobs', `${sha256(bytes)}.incomplete`), bytes);
    const other = TINY.files.get('model-00002-of-000002.safetensors')!;
    await writeFile(join(repoRoot(), 'blobs', `${sha256(other)}.incomplete`), other.subarray(0, 1000));
    hub.faults.ignoreRange = true;
    await resolve('test-org/tiny-v3');
    const cdn = hub.requests.filter((r) => r.server === 'cdn').map((r) => [r.range, r.status]);
    expect(cdn.sort()).toEqual([
      ['bytes=1000-', 200],
      [`bytes=${bytes.length}-`, 200], // ignoreRange: the whole file again, still correct
    ]);
    await rm(join(repoRoot(), 'snapshots'), { recursive: true });
    await rm(join(repoRoot(), 'blobs', sha256(bytes)));
    await writeFile(join(repoRoot(), 'blobs', `${sha256(bytes)}.incomplete`), bytes);
    hub.requests.length = 0;
    hub.faults.ignoreRange = false;
    const resolved = await resolve('test-org/tiny-v3');
    expect(hub.requests.filter((r) => r.server === 'cdn').map((r) => [r.range, r.status])).toEqual([[`bytes=${bytes.length}-`, 416]]);
    expect(sha256(await readFile(join(resolved.dir, SHARD)))).toBe(sha256(bytes));
  });

  it('corrupted bytes fail the sha256 check: an error naming the file, and no blob, partial file or link left', async () => {
    hub.faults.corrupt = true;
    const error = (await resolve('test-org/tiny-v3').catch((e: unknown) => e)) as HubError;
    expect(error).toBeInstanceOf(HubError);
    const shard = NEEDED.find((f) => error.target === `test-org/tiny-v3/${f}`)!; // the first shard fetched
    expect(isLfs(shard)).toBe(true);
    const hash = sha256(TINY.files.get(shard)!);
    expect(error.detail).toMatch(new RegExp(`^the downloaded file is corrupt \\(sha256 [0-9a-f]{64}, not the hub's ${hash}\\); it was deleted`));
    expect((await blobs()).filter((b) => b.startsWith(hash))).toEqual([]);
    await expect(lstat(join(repoRoot(), 'snapshots', hub.commitOf(TINY), shard))).rejects.toThrow();
  });

  it('sends HF_TOKEN to the hub only, never to the CDN, and never prints it', async () => {
    const resolved = await resolve('test-org/private', { env: { HF_TOKEN: PRIVATE.token } });
    expect(resolved.downloaded).toContain('model-00001-of-000002.safetensors');
    const hubAuth = hub.requests.filter((r) => r.server === 'hub').map((r) => r.authorization);
    const cdnAuth = hub.requests.filter((r) => r.server === 'cdn').map((r) => r.authorization);
    expect(new Set(hubAuth)).toEqual(new Set([`Bearer ${PRIVATE.token}`]));
    expect(cdnAuth.length).toBeGreaterThan(0);
    expect(new Set(cdnAuth)).toEqual(new Set([undefined]));

    const refused = (await resolve('test-org/private', { token: 'hf_wrongtoken' }).catch((e: unknown) => e)) as Error;
    expect(refused).toBeInstanceOf(HubError);
    expect(refused.message).toMatch(/refused access \(401\) \(the hub says: 'Access to this model is restricted'\): .*set HF_TOKEN/);
    expect(refused.message).not.toContain('hf_wrongtoken');
  });

  it('follows the relative redirect of a renamed repository with the token, caching under the name asked for', async () => {
    const resolved = await resolve('old-org/tiny-old', { token: 'hf_abc' });
    expect(resolved.dir).toBe(join(cacheDir, 'models--old-org--tiny-old', 'snapshots', hub.commitOf(TINY)));
    const redirects = hub.requests.filter((r) => r.status === 307);
    expect(redirects.length).toBe(1 + NEEDED.length); // the listing and each HEAD
    expect(hub.requests.filter((r) => r.server === 'hub').every((r) => r.authorization === 'Bearer hf_abc')).toBe(true);
    expect(hub.requests.filter((r) => r.server === 'cdn').every((r) => r.authorization === undefined)).toBe(true);
  });

  it('reads the token from $HF_HOME/token when HF_TOKEN is unset, as huggingface_hub does', async () => {
    await writeFile(join(cacheDir, 'token'), `${PRIVATE.token}\n`);
    await resolve('test-org/private', { env: { HF_HOME: cacheDir } });
    expect(hub.requests.filter((r) => r.server === 'hub').every((r) => r.authorization === `Bearer ${PRIVATE.token}`)).toBe(true);
  });

  it('refuses shard names that leave the folder, and shards the repository lacks', async () => {
    await expect(resolve('test-org/evil')).rejects.toThrow(CheckpointError);
    await expect(resolve('test-org/evil')).rejects.toThrow(/shard name '..\/..\/..\/outside.safetensors' is refused: it has a '..' path segment/);
    await expect(resolve('test-org/absent-shard')).rejects.toThrow(
      /test-org\/absent-shard\/model.safetensors.index.json: names shard model-00009-of-000009.safetensors, which the repository does not have/,
    );
  });

  it('names what the hub did not have: repository, revision', async () => {
    await expect(resolve('test-org/nothing')).rejects.toThrow(/no such repository \(or it is private: set HF_TOKEN\) \(404\).*; and there is no folder 'test-org\/nothing' here/);
    await expect(resolve('test-org/tiny-v3@v9')).rejects.toThrow(/no such revision \(404\) \(the hub says: 'Invalid rev id: v9'\)/);
    await expect(resolve('test-org/tiny-v3', { revision: 'v9' })).rejects.toThrow(/no such revision/);
    await expect(resolve('test-org/tiny-v3@main', { revision: 'v9' })).rejects.toThrow(/--revision: 'v9' disagrees with the revision in 'test-org\/tiny-v3@main'/);
  });

  it('a revision that is a commit resolves with no refs/ entry; paths and non-ids are returned untouched', async () => {
    const commit = hub.commitOf(TINY);
    const resolved = await resolve(`test-org/tiny-v3@${commit}`);
    expect(resolved.dir).toBe(join(repoRoot(), 'snapshots', commit));
    await expect(readdir(join(repoRoot(), 'refs'))).rejects.toThrow();
    hub.requests.length = 0;
    for (const path of ['weights/tiny-v3-trained', './no/such', 'no/such/folder', '/abs/x']) {
      expect((await resolve(path)).dir).toBe(path);
    }
    expect(hub.requests).toEqual([]);
  });

  it("the library's loadModel() resolves a hub id before it makes a device: a missing one fails with the hub's answer", async () => {
    const hubOptions = { env: {}, cacheDir, endpoint: hub.endpoint };
    await expect(loadModel('test-org/nothing', { hub: hubOptions })).rejects.toThrow(/test-org\/nothing.*no such repository/);
    await expect(loadModel('test-org/tiny-v3', { hub: { ...hubOptions, offline: true } })).rejects.toThrow(/HF_HUB_OFFLINE is set/);
  });
});
