import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { FolderSource } from '../checkpoint/byte-source.ts';
import { ConfigError } from '../errors.ts';
import { describeSampling, loadGenerationDefaults, parseGenerationConfig, samplingInUse } from './generation-config.ts';

const FILE = 'm/generation_config.json';
const parse = (json: unknown) => parseGenerationConfig(json, FILE, 2048);

/** A folder holding only `files` (name -> text). */
function folder(files: Record<string, string>): FolderSource {
  return {
    name: 'm',
    open: () => Promise.reject(new Error('not used')),
    exists: async (f) => f in files,
    readText: async (f) => files[f],
  };
}

describe('parseGenerationConfig', () => {
  it("reads the embedded model's file as DeepSeek ships it", () => {
    const json = JSON.parse(readFileSync('weights/tiny-v3-trained/generation_config.json', 'utf8'));
    expect(parse(json)).toEqual({ source: FILE, temperature: 0.6, topP: 0.95, eosTokenIds: [1], bosTokenId: 0 });
  });

  it('takes every sampling field with do_sample, and an eos list as the stop ids', () => {
    const d = parse({ do_sample: true, temperature: 0.7, top_k: 40, top_p: 0.9, min_p: 0.05, repetition_penalty: 1.1, max_new_tokens: 64, eos_token_id: [1, 7], some_new_field: { x: 1 } });
    expect(d).toEqual({ source: FILE, temperature: 0.7, topK: 40, topP: 0.9, minP: 0.05, repetitionPenalty: 1.1, maxNewTokens: 64, eosTokenIds: [1, 7] });
  });

  it('without do_sample: true it is greedy, as in transformers (the repetition penalty still applies)', () => {
    expect(parse({ do_sample: false, temperature: 0.6, top_p: 0.95, repetition_penalty: 1.2 })).toEqual({ source: FILE, temperature: 0, repetitionPenalty: 1.2 });
    expect(parse({ temperature: 0.6 })).toEqual({ source: FILE });
    expect(parse({ do_sample: true })).toEqual({ source: FILE, temperature: 1 });
  });

  it('max_length applies only without max_new_tokens; nulls count as absent', () => {
    expect(parse({ max_length: 100 })).toEqual({ source: FILE, maxLength: 100 });
    expect(parse({ max_length: 100, max_new_tokens: 10 })).toEqual({ source: FILE, maxNewTokens: 10 });
    expect(parse({ do_sample: true, temperature: null, top_p: null, eos_token_id: null })).toEqual({ source: FILE, temperature: 1 });
  });

  it.each([
    ['temperature', { do_sample: true, temperature: -0.5 }, /got -0.5; must be in \[0, 100\]/],
    ['temperature', { temperature: '0.6' }, /got '0.6'; expected a number/],
    ['top_p', { do_sample: true, top_p: 0 }, /must be in \(0, 1\]/],
    ['top_p', { top_p: 1.5 }, /must be in \(0, 1\]/],
    ['top_k', { top_k: 2.5 }, /expected an integer/],
    ['min_p', { min_p: 1 }, /must be in \[0, 1\)/],
    ['repetition_penalty', { repetition_penalty: 0 }, /must be in \(0, 100\]/],
    ['max_new_tokens', { max_new_tokens: -1 }, /must be in \[0, /],
    ['do_sample', { do_sample: 'yes' }, /expected true or false/],
    ['eos_token_id', { eos_token_id: [1, 4096] }, /element 4096 is not an integer in \[0, 2047\]/],
    ['(root)', [1, 2], /expected a JSON object/],
  ])('a bad %s is a ConfigError naming the file and the field', (field, json, detail) => {
    let err: unknown;
    try {
      parse(json);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).field).toBe(field);
    expect((err as Error).message).toMatch(`${FILE}: config field '${field}'`);
    expect((err as Error).message).toMatch(detail);
  });
});

describe('loadGenerationDefaults', () => {
  it('a folder without the file gets no defaults (greedy)', async () => {
    expect(await loadGenerationDefaults(folder({}), 2048)).toEqual({ source: null });
  });

  it('malformed JSON is a ConfigError naming the file, not a crash', async () => {
    const load = loadGenerationDefaults(folder({ 'generation_config.json': '{"do_sample": true,' }), 2048);
    await expect(load).rejects.toThrow(ConfigError);
    await expect(load).rejects.toThrow(/^m\/generation_config.json: config field '\(root\)': not valid JSON/);
  });

  it('reads the file through the folder source', async () => {
    const d = await loadGenerationDefaults(folder({ 'generation_config.json': '{"do_sample": true, "temperature": 0.3}' }), 2048);
    expect(d).toEqual({ source: 'm/generation_config.json', temperature: 0.3 });
  });
});

describe('samplingInUse and describeSampling', () => {
  const model = parse({ do_sample: true, temperature: 0.6, top_p: 0.95 });

  it("the model's settings where the caller gives none", () => {
    const s = samplingInUse({}, model);
    expect(s).toMatchObject({ temperature: 0.6, topP: 0.95, topK: 0, minP: 0, repetitionPenalty: 1 });
    expect(describeSampling(s, model.source)).toBe('temperature 0.6, top-p 0.95 (generation_config.json)');
  });

  it("the caller's settings win, one by one; an explicit undefined is no setting", () => {
    const s = samplingInUse({ temperature: 0.8, topP: undefined }, model);
    expect(describeSampling(s, model.source)).toBe('temperature 0.8, top-p 0.95 (top-p from generation_config.json)');
    expect(describeSampling(samplingInUse({ temperature: 0 }, model), model.source)).toBe('greedy');
    expect(describeSampling(samplingInUse({ temperature: 1, topP: 1 }, model), model.source)).toBe('temperature 1');
  });

  it('greedy because of the file, or for want of one', () => {
    const greedyFile = parse({ do_sample: false, repetition_penalty: 1.1 });
    expect(describeSampling(samplingInUse({}, greedyFile), greedyFile.source)).toBe('greedy, repetition penalty 1.1 (generation_config.json)');
    expect(describeSampling(samplingInUse({}, { source: null }), null)).toBe('greedy');
  });
});
