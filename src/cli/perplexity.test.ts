// The installed command as a user runs it, in a process of its own.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { FIRST_TWO_WINDOWS, HELDOUT_FILE } from '../../kernels-test/helpers/eval.ts';

const cli = (...args: string[]) => promisify(execFile)('node', ['bin/deepseek-webgpu.js', 'perplexity', ...args], { encoding: 'utf8' });

describe('perplexity', () => {
  it("--max-windows 2 --mtp --json: the CPU reference's figures for the first two windows of the held-out text", async () => {
    const { stdout } = await cli('--file', HELDOUT_FILE, '--max-windows', '2', '--mtp', '--json', '--quiet');
    const r = JSON.parse(stdout);
    expect(r).toMatchObject({ tokens: 512, windows: 2, window: 256, mtp: { predictions: 510 } });
    expect(Math.abs(r.nats_per_token - FIRST_TWO_WINDOWS.nats)).toBeLessThanOrEqual(1e-5);
    expect(Math.abs(r.mtp.nats_per_token - FIRST_TWO_WINDOWS.mtpNats)).toBeLessThanOrEqual(1e-5);
    expect(r.perplexity).toBeCloseTo(Math.exp(r.nats_per_token), 9);
    expect(r.seconds).toBeGreaterThan(0);
  });

  it('prints the figures as text, and the time on stderr', async () => {
    const { stdout, stderr } = await cli('--file', HELDOUT_FILE, '--window', '8', '--max-windows', '3');
    expect(stdout).toMatch(/^next token: \d+\.\d{5} nats\/token, perplexity \d+\.\d{3} \(24 tokens, 3 windows of 9\)\n$/);
    expect(stderr).toMatch(/^\[\d+\.\d s, \d+\.\d tokens\/s\]\n$/m);
  });
});
