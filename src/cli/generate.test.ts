import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CheckpointError, InputError } from '../errors.ts';
import { buildProgram } from '../cli.ts';

const FIXTURE = 'kernels-test/fixtures/tiny-v3';

/** What the last run() printed to stderr. */
let stderr = '';

/** Runs the CLI in-process and returns what it printed to stdout. */
async function run(...args: string[]): Promise<string> {
  let out = '';
  stderr = '';
  const text = (chunk: string | Uint8Array) => (typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += text(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += text(chunk);
    return true;
  });
  try {
    await buildProgram().exitOverride().parseAsync(['node', 'deepseek-webgpu', ...args]);
  } finally {
    spy.mockRestore();
    err.mockRestore();
  }
  return out;
}

afterEach(() => vi.restoreAllMocks());

describe('generate', () => {
  it('--json with --tokens gives the greedy ids of the golden continuation', async () => {
    // tiny-v3's golden greedy.prompt and the first 8 of greedy.tokens (golden.json "greedy")
    const prompt = '963,1038,928,1326,1113,553,957,1969,1845,841,351,1097,2028,129,143,218,540';
    // The fixture's generation_config.json asks for sampling; --temperature 0 overrides it.
    const json = JSON.parse(await run('generate', '--model', FIXTURE, '--tokens', prompt, '--max-new-tokens', '8', '--temperature', '0', '--json', '--quiet'));
    expect(json.tokens).toEqual([1343, 1897, 1045, 328, 1857, 568, 1297, 1185]);
    expect(stderr).toBe('[sampling: greedy]\n');
    expect(json.sampling.seed).toBeNull();
    expect(json.finish_reason).toBe('length');
    expect(json.stats.prompt_tokens).toBe(17);
    expect(json.stats.generated_tokens).toBe(8);
    expect(json.stats.decode_tokens_per_s).toBeGreaterThan(0);
  });

  it('streams English text from the embedded default model, the prompt first', async () => {
    const out = await run('generate', 'In the beginning', '--max-new-tokens', '12', '--quiet');
    expect(out.startsWith('In the beginning')).toBe(true);
    expect(out.slice('In the beginning'.length)).toMatch(/^[\x20-\x7e\n]+$/); // sampled, so any printable text
    expect(out).toMatch(/[a-z]{2}/);
  });

  it("samples as the model's generation_config.json says, prints the settings and a seed that repeats the run", async () => {
    const sampled = JSON.parse(await run('generate', 'In the beginning', '-n', '12', '--json', '--quiet'));
    const line = stderr.match(/^\[sampling: temperature 0\.6, top-p 0\.95 \(generation_config\.json\) · seed (\d+)\]\n$/);
    expect(line, stderr).not.toBeNull();
    expect(sampled.sampling).toEqual({ temperature: 0.6, top_k: 0, top_p: 0.95, min_p: 0, repetition_penalty: 1, seed: Number(line![1]) });
    // The same settings spelled out, with the printed seed: the same tokens.
    const again = JSON.parse(await run('generate', 'In the beginning', '-n', '12', '--temperature', '0.6', '--top-p', '0.95', '--seed', line![1], '--json', '--quiet'));
    expect(again.tokens).toEqual(sampled.tokens);
    expect(stderr).toBe(`[sampling: temperature 0.6, top-p 0.95 · seed ${line![1]}]\n`);
  });

  it('--chat goes through the chat template; the same seed gives the same sample', async () => {
    const a = JSON.parse(await run('generate', 'What is a river?', '--chat', '--temperature', '0.9', '--seed', '3', '--max-new-tokens', '10', '--json', '--quiet'));
    const b = JSON.parse(await run('generate', 'What is a river?', '--chat', '--temperature', '0.9', '--seed', '3', '--max-new-tokens', '10', '--json', '--quiet'));
    expect(a.tokens).toEqual(b.tokens);
    // <｜begin▁of▁sentence｜><｜User｜>What is a river?<｜Assistant｜>: BOS, User, ..., Assistant
    expect(a.stats.prompt_tokens).toBeGreaterThan(4);
  });

  it('refuses bad input with errors that name the argument or file', async () => {
    await expect(run('generate', '--model', FIXTURE, '--tokens', '5,2048', '--quiet')).rejects.toThrow(/token id 2048 at index 1/);
    await expect(run('generate', '--model', FIXTURE, 'hello', '--quiet')).rejects.toThrow(/has no tokenizer \(tokenizer.json or tiktoken.model/);
    await expect(run('generate', '--quiet')).rejects.toThrow(InputError);
    await expect(run('generate', '--model', FIXTURE, '--tokens', '5,6,7', '--context-length', '2', '--quiet')).rejects.toThrow(/3 tokens do not fit the context: 2 of 2 positions are free/);
    await expect(run('generate', '--model', 'no/such/folder', '--tokens', '5', '--quiet')).rejects.toThrow(CheckpointError);
    await expect(run('generate', '--model', FIXTURE, '--tokens', '5', '--temperature', 'hot', '--quiet')).rejects.toThrow(/--temperature: expected a number/);
    await expect(run('generate', '--model', 'kernels-test/fixtures', '--tokens', '5', '--quiet')).rejects.toThrow(/no config.json/);
  });

  it('stops at the context limit with what it generated', async () => {
    const json = JSON.parse(await run('generate', '--model', FIXTURE, '--tokens', '5,6,7', '--context-length', '6', '--max-new-tokens', '50', '--temperature', '0', '--json', '--quiet'));
    expect(json.finish_reason).toBe('context');
    expect(json.tokens).toHaveLength(4); // 3 prompt positions + 3 generated appended; the 4th needs no position
  });
});

describe('the installed command', () => {
  it('bin/deepseek-webgpu.js runs generate as the Quick start does', () => {
    const out = execFileSync('node', ['bin/deepseek-webgpu.js', 'generate', 'In the beginning', '--max-new-tokens', '5', '--quiet'], { encoding: 'utf8' });
    expect(out.startsWith('In the beginning')).toBe(true);
  });
});

describe('info and verify', () => {
  it('info --model summarizes the config, parameters and memory plan', async () => {
    const out = await run('info', '--model', FIXTURE, '--json');
    const report = JSON.parse(out);
    expect(report.adapter.description).toEqual(expect.any(String));
    expect(report.model.architecture).toBe('DeepseekV3ForCausalLM');
    expect(report.model.parameters.total).toBeGreaterThan(0);
    expect(report.model.memory.total).toBeGreaterThan(report.model.memory.weights);
  });

  it('verify agrees with the CPU reference', async () => {
    expect(await run('verify', '--model', FIXTURE, '--quiet')).toMatch(/^OK: worst relative L2/m);
  });
});

describe('generate --samples / --vote / --reasoning-budget', () => {
  it('--samples N --vote --reasoning-budget T --json: N seeds, each reasoning cut with </think>, the vote over what follows it', async () => {
    const json = JSON.parse(await run('generate', 'In the beginning <think>\n', '--samples', '3', '--vote', '--reasoning-budget', '4', '--seed', '11', '-n', '10', '--json', '--quiet'));
    expect(json.samples.map((s: { seed: number }) => s.seed)).toEqual([11, 12, 13]);
    for (const s of json.samples) {
      expect(s.text).toContain('</think>');
      const after = s.text.slice(s.text.lastIndexOf('</think>') + '</think>'.length).trim().replace(/\s+/g, ' ');
      expect(s.answer).toBe(after === '' ? null : after);
    }
    const answers = json.samples.map((s: { answer: string | null }) => s.answer);
    const votes = json.vote.tally.map((c: { answer: string; votes: number }) => [c.answer, c.votes]);
    expect(votes.reduce((n: number, [, v]: [string, number]) => n + v, 0) + json.vote.abstained).toBe(3);
    for (const [answer, v] of votes) expect(answers.filter((a: string | null) => a === answer)).toHaveLength(v);
    expect(json.vote.answer).toBe(votes[0][0]);
    expect(json.vote.share).toBe(`${votes[0][1]}/3`);
    expect(stderr).toMatch(/\[3 samples, in one batch · /);
  });

  it('--vote prints the winning answer, its share and the tally (greedy samples agree: 3/3)', async () => {
    const out = await run('generate', 'And God said', '--samples', '3', '--vote', '--temperature', '0', '-n', '5', '--quiet');
    expect(out).toMatch(/^answer: .+\nvotes: 3\/3\ntally: ".+" 3\n$/);
    expect(stderr).toMatch(/\[3 samples, in one batch · 15 tokens/);
  });

  it('refuses inconsistent or bad flags before loading anything', async () => {
    await expect(run('generate', 'x', '--vote')).rejects.toThrow(/--vote: needs --samples N/);
    await expect(run('generate', 'x', '--answer-pattern', '\\d')).rejects.toThrow(/--answer-pattern: needs --samples N/);
    await expect(run('generate', 'x', '--samples', '2', '--answer-pattern', '(')).rejects.toThrow(/--answer-pattern: '\(' is not a valid regular expression/);
    await expect(run('generate', 'x', '--samples', '0')).rejects.toThrow(/--samples: expected an integer >= 1, got '0'/);
    await expect(run('generate', 'x', '--reasoning-budget', '-2')).rejects.toThrow(/--reasoning-budget: expected an integer >= 0/);
  });
});
