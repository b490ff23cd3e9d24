import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildProgram } from '../cli.ts';
import { HubError, InputError } from '../errors.ts';
import { repoFromFolder, startTestHub, type TestHub } from '../hub/test-hub.ts';

const TINY = repoFromFolder('test-org', 'tiny-v3', 'weights/tiny-v3-trained');
// weights/tiny-v3-trained/golden.json "greedy": the official code's greedy continuation of this prompt.
const PROMPT = '0,345,264,870,355,822,352,564,727,273,264,1004,49,696,264,1465,3283';
const CONTINUATION = [273, 264, 818, 273, 1558, 264];

let hub: TestHub;
let home: string;
let stderr = '';

/** Runs the CLI in-process; returns stdout, leaves stderr in `stderr`. */
async function run(...args: string[]): Promise<string> {
  let out = '';
  stderr = '';
  const text = (chunk: string | Uint8Array) => (typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
  const spies = [
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((out += text(chunk)), true)),
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += text(chunk)), true)),
  ];
  try {
    await buildProgram().exitOverride().parseAsync(['node', 'deepseek-webgpu', ...args]);
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  return out;
}

beforeAll(async () => {
  hub = await startTestHub([TINY]);
  home = await mkdtemp(join(tmpdir(), 'hf-home-'));
  // The hub's variables as a user sets them; never the real ~/.cache or a real token.
  vi.stubEnv('HF_HOME', home);
  vi.stubEnv('HF_HUB_CACHE', '');
  vi.stubEnv('HUGGINGFACE_HUB_CACHE', '');
  vi.stubEnv('HF_TOKEN', '');
  vi.stubEnv('HF_HUB_OFFLINE', '');
  vi.stubEnv('HF_ENDPOINT', hub.endpoint);
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await hub.close();
  await rm(home, { recursive: true, force: true });
});

describe('models by Hugging Face id on the command line', () => {
  it('info --model owner/name reads config.json and the shard headers in place with range requests, downloading nothing', async () => {
    const remote = JSON.parse(await run('info', '--model', 'test-org/tiny-v3', '--json')).model;
    const local = JSON.parse(await run('info', '--model', 'weights/tiny-v3-trained', '--json')).model;
    expect(remote.folder).toBe(`${hub.endpoint}/test-org/tiny-v3/resolve/${hub.commitOf(TINY)}/`);
    // The same report but for the folder and the memory budget (what is free now, which moves between runs).
    const withoutBudget = (model: { memory: object }) => ({ ...model, folder: '', memory: { ...model.memory, budget: null, refusal: null } });
    expect(withoutBudget(remote)).toEqual(withoutBudget(local));
    await expect(readdir(join(home, 'hub'))).rejects.toThrow(); // no cache written
    const cdn = hub.requests.filter((r) => r.server === 'cdn' && r.method === 'GET');
    expect(cdn.length).toBeGreaterThan(0);
    expect(cdn.every((r) => /^bytes=\d+-\d+$/.test(r.range ?? ''))).toBe(true); // header ranges, never a whole shard
  });

  it('pull downloads into $HF_HOME/hub and prints the snapshot folder; generate --model owner/name runs from it offline', async () => {
    const commit = hub.commitOf(TINY);
    const snapshot = join(home, 'hub', 'models--test-org--tiny-v3', 'snapshots', commit);
    expect(await run('pull', 'test-org/tiny-v3')).toBe(`${snapshot}\n`);
    expect(stderr).toBe(`[test-org/tiny-v3@main: commit ${commit} · downloaded 7 files (19.2 MiB), 0 found as blobs in the cache]\n`);
    expect((await readdir(snapshot)).length).toBe(7);
    expect(await run('pull', 'test-org/tiny-v3', '--quiet')).toBe(`${snapshot}\n`);
    expect(stderr).toBe('');
    expect(await run('pull', `test-org/tiny-v3@${commit}`)).toBe(`${snapshot}\n`);
    expect(stderr).toBe(`[test-org/tiny-v3@${commit}: commit ${commit} · all files already in the cache]\n`);

    vi.stubEnv('HF_HUB_OFFLINE', '1');
    hub.requests.length = 0;
    try {
      const json = JSON.parse(await run('generate', '--model', 'test-org/tiny-v3', '--tokens', PROMPT, '-n', String(CONTINUATION.length), '--temperature', '0', '--json', '--quiet'));
      expect(json.tokens).toEqual(CONTINUATION);
    } finally {
      vi.stubEnv('HF_HUB_OFFLINE', '');
    }
    expect(hub.requests).toEqual([]);
  });

  it('serve --model owner/name serves the model under its hub id, from the cache', async () => {
    let out = '';
    const spies = [
      vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((out += String(chunk)), true)),
      vi.spyOn(process.stderr, 'write').mockImplementation(() => true),
      vi.spyOn(console, 'log').mockImplementation((line: string) => void (out += `${line}\n`)),
      vi.spyOn(console, 'error').mockImplementation(() => {}),
    ];
    try {
      const serving = buildProgram().exitOverride().parseAsync(['node', 'deepseek-webgpu', 'serve', '--model', 'test-org/tiny-v3', '--port', '0', '--quiet']);
      await expect.poll(() => out, { timeout: 60_000, interval: 100 }).toMatch(/^serving /);
      const url = out.match(/at (http:\/\/\S+)\/v1 /)![1];
      const models = (await (await fetch(`${url}/v1/models`)).json()) as { data: { id: string }[] };
      expect(models.data.map((m) => m.id)).toEqual(['test-org/tiny-v3']);
      expect(out).toMatch(/^serving test-org\/tiny-v3 at /);
      process.emit('SIGINT');
      await serving;
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  });

  it('refuses local paths for pull, --revision with a folder, and names what the hub lacks', async () => {
    await expect(run('pull', 'weights/tiny-v3-trained')).rejects.toThrow(/pull: 'weights\/tiny-v3-trained' is a local path; pull takes a Hugging Face model id/);
    await expect(run('pull', './no/such')).rejects.toThrow(InputError);
    await expect(run('generate', '--model', 'weights/tiny-v3-trained', '--revision', 'v2', '--tokens', '1', '--quiet')).rejects.toThrow(
      /--revision: applies to a Hugging Face model id, and 'weights\/tiny-v3-trained' is a path/,
    );
    await expect(run('generate', '--model', 'test-org/tiny-v3', '--revision', 'v9', '--tokens', '1', '--quiet')).rejects.toThrow(HubError);
    await expect(run('pull', 'test-org/absent')).rejects.toThrow(/no such repository .*and there is no folder 'test-org\/absent' here/);
  });
});
