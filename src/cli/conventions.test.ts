// The habits users bring from other tools (llama.cpp's short flags, --version, a one-line hint for a
// mistyped flag), checked through the installed command as a shell runs it.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(...args: string[]): Promise<Ran> {
  // An empty cache folder of its own: no `tune` record of this machine's reaches the command.
  const env = { ...process.env, XDG_CACHE_HOME: mkdtempSync(join(tmpdir(), 'dsw-cache-')) };
  return promisify(execFile)('node', ['bin/deepseek-webgpu.js', ...args], { env }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (e: Ran) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

describe('the command line', () => {
  it('--version and -V print the package version', async () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) expect(await cli(flag)).toEqual({ code: 0, stdout: `deepseek-webgpu ${version}\n`, stderr: '' });
  });

  it('a misspelled flag gets one line with the closest match and exit code 1, no help', async () => {
    expect(await cli('generate', '--max-new-token', '5', 'x')).toEqual({
      code: 1,
      stdout: '',
      stderr: "deepseek-webgpu: unknown option '--max-new-token' (did you mean --max-new-tokens?)\n",
    });
    const far = await cli('generate', '--frobnicate', 'x');
    expect([far.code, far.stderr]).toEqual([1, "deepseek-webgpu: unknown option '--frobnicate' (see deepseek-webgpu generate --help)\n"]);
    expect((await cli('genrate')).stderr).toBe("deepseek-webgpu: unknown command 'genrate' (did you mean generate?)\n");
  });

  it("llama.cpp's short flags: -m -p -n -s -c, and --temp", async () => {
    const r = await cli('generate', '-m', 'weights/tiny-v3-trained', '-p', 'In the beginning', '-n', '3', '-s', '9', '--temp', '0.7', '-c', '32', '--json', '--quiet');
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.tokens).toHaveLength(3);
    expect(json.finish_reason).toBe('length');
    expect(json.sampling).toEqual({ temperature: 0.7, top_k: 0, top_p: 0.95, min_p: 0, repetition_penalty: 1, seed: 9 });
    expect(r.stderr).toBe('[sampling: temperature 0.7, top-p 0.95 (top-p from generation_config.json) · seed 9]\n');
    // -c reached the KV cache: 4 prompt positions and 2 more leave room for 3 tokens, not 10.
    const short = JSON.parse((await cli('generate', '-p', 'In the beginning', '-c', '6', '-n', '10', '--temp', '0', '--json', '--quiet')).stdout);
    expect([short.tokens.length, short.finish_reason]).toEqual([3, 'context']);
  });

  it("info without --model describes the embedded default model, with -m as --model's short form", async () => {
    const r = await cli('info', '--json');
    expect(r.code, r.stderr).toBe(0);
    const model = JSON.parse(r.stdout).model;
    expect(model.folder).toMatch(/weights\/tiny-v3-trained$/);
    expect(model.architecture).toBe('DeepseekV3ForCausalLM');
    // SwiftShader launches with the CPU profile; no tune record in the test's empty cache folder.
    expect(JSON.parse(r.stdout).launch).toEqual({ profile: 'cpu', tuneRecord: null });
    const fixture = JSON.parse((await cli('info', '-m', 'kernels-test/fixtures/tiny-v3', '--json')).stdout).model;
    expect(fixture.folder).toBe('kernels-test/fixtures/tiny-v3');
  });
});
