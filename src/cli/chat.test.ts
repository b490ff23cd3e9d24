// `deepseek-webgpu chat` under a pseudo-terminal, as a person types at it: util-linux's `script` gives the CLI a
// terminal (readline then reads keys, and Ctrl-C arrives as a key, not a signal to the test).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** The CLI in a pseudo-terminal; `output` accumulates everything the terminal shows. */
function startChat(args: string): { child: ChildProcess; output: () => string; waitFor: (pattern: RegExp, from?: number) => Promise<number> } {
  const command = `exec npx tsx src/cli.ts chat --quiet ${args}`;
  const child = spawn('script', ['-qfec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TERM: 'dumb' } });
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  /** Resolves with the index just past the first match found after `from`. */
  const waitFor = (pattern: RegExp, from = 0) =>
    new Promise<number>((resolve, reject) => {
      const check = () => {
        const m = pattern.exec(text.slice(from));
        if (m) {
          clearInterval(timer);
          resolve(from + m.index + m[0].length);
        }
      };
      const timer = setInterval(check, 50);
      child.on('exit', () => {
        check();
        clearInterval(timer);
        reject(new Error(`exited while waiting for ${pattern}; output:\n${text}`));
      });
    });
  return { child, output: () => text, waitFor };
}

describe('chat in a terminal', () => {
  it('answers, keeps the first turn in the cache, saves, forgets on /reset, loads, and leaves on /exit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chat-'));
    const { child, output, waitFor } = startChat('--temperature 0 -n 8');
    const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const type = (s: string) => child.stdin!.write(s);

    let at = await waitFor(/> /);
    type('In the beginning\r');
    at = await waitFor(/\[prefill 6 new tokens \(0 kept\).*decode 8 tokens.*length\]/, at);
    at = await waitFor(/> /, at);

    type('And God said\r');
    at = await waitFor(/\[prefill \d+ new tokens \([1-9]\d* kept\)/, at); // the first turn stayed in the cache
    at = await waitFor(/> /, at);

    type(`/save ${join(dir, 'c.json')}\r`);
    at = await waitFor(/\[saved 4 messages/, at);
    expect(JSON.parse(readFileSync(join(dir, 'c.json'), 'utf8')).messages.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);

    type('/reset\r');
    at = await waitFor(/\[conversation forgotten\]/, at);
    await waitFor(/> /, at);

    type(`/load ${join(dir, 'c.json')}\r`);
    at = await waitFor(/\[loaded 4 messages/, at);
    await waitFor(/> /, at);

    type('/exit\r');
    expect(await exit).toBe(0);
    expect(output()).not.toMatch(/Error/);
  });

  it('Ctrl-C stops a long answer and returns to the prompt; twice at the prompt leaves', async () => {
    const { child, waitFor } = startChat('--temperature 0 -n 1000');
    const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    let at = await waitFor(/> /);
    child.stdin!.write('In the beginning\r');
    at = await waitFor(/children/, at); // streaming (greedy runs 300 tokens and more without an end)
    child.stdin!.write('\x03');
    at = await waitFor(/decode \d+ tokens.* · stopped\]/, at);
    at = await waitFor(/> /, at);
    expect(child.exitCode).toBeNull();
    child.stdin!.write('\x03');
    await waitFor(/Ctrl-C again/, at);
    child.stdin!.write('\x03');
    expect(await exit).toBe(0);
  });
});
