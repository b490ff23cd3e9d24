// The tiktoken format: the tiny model's vocabulary rewritten as tiktoken.model must encode exactly as its
// tokenizer.json does (same ids, with GPT-2's pattern), load from a folder, and reject malformed files by line.
// Kimi-K2's pre-tokenization pattern is checked on its own splits.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError, InputError } from '../errors.ts';
import { loadTokenizer } from './load-node.ts';
import { tiktokenFromTokenizerJson } from './test-tiktoken.ts';
import { KIMI_PATTERN, TiktokenBpe } from './tiktoken.ts';
import { TextTokenizer } from './tokenizer.ts';

const DIR = 'weights/tiny-v3-trained';
const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const readJson = (file: string) => JSON.parse(readFileSync(`${DIR}/${file}`, 'utf8'));

const UNICODE = [
  'café — naïve',
  'emoji 😀👍🏽 end',
  '中文字 and 日本語',
  'Zürich\tÅngström\r\n¿qué?',
  "I'LL say 'tis 12345 ,, ... !!\n\n\n  spaced   out  ",
  '\u00a0non-breaking\u2003em\u3000ideographic',
  '<｜User｜>hi<｜Assistant｜>there<｜end▁of▁sentence｜>',
  '',
  ' ',
  // Long single pieces exercise the merge loop far past word length.
  '-'.repeat(5000),
  'ab'.repeat(2000),
];

let hf: TextTokenizer;
let tt: TextTokenizer;
let model: string;
let config: any;
let dir: string;
beforeAll(async () => {
  const json = readJson('tokenizer.json');
  const generated = tiktokenFromTokenizerJson(json);
  model = generated.model;
  config = { ...readJson('tokenizer_config.json'), added_tokens_decoder: generated.addedTokensDecoder };
  hf = new TextTokenizer(json, readJson('tokenizer_config.json'));
  tt = TextTokenizer.fromTiktoken(model, config, {}, { pattern: GPT2_PATTERN });
  dir = await mkdtemp(join(tmpdir(), 'tiktoken-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('tiktoken format on the tiny model vocabulary', () => {
  it('has the same special ids, size and token strings', () => {
    expect([tt.bosId, tt.eosId, tt.vocabSize, tt.addsBosByDefault]).toEqual([hf.bosId, hf.eosId, hf.vocabSize, hf.addsBosByDefault]);
    expect([...tt.specialIds].sort()).toEqual([...hf.specialIds].sort());
    for (const id of [0, 3, 5, 100, 300, 4095]) expect(tt.idToToken(id)).toBe(hf.idToToken(id));
    expect(tt.tokenToId('Ġthe')).toBe(hf.tokenToId('Ġthe'));
    expect(tt.idToToken(4096)).toBeUndefined();
  });

  it('encodes held-out text and unicode exactly as tokenizer.json does, and decodes it back', () => {
    const lines = readFileSync('eval/kjv-wordnet-heldout.txt', 'utf8').split('\n').slice(0, 400);
    for (const text of [...lines, ...UNICODE, lines.slice(0, 20).join('\n')]) {
      const ids = tt.encode(text);
      expect(ids, text).toEqual(hf.encode(text));
      expect(tt.decode(ids), text).toBe(hf.decode(ids));
      expect(tt.decode(ids, { skipSpecialTokens: true })).toBe(hf.decode(ids, { skipSpecialTokens: true }));
    }
  });

  it('streams multi-byte characters split over tokens without emitting half of one', () => {
    const text = 'emoji 😀👍🏽 and 中文字';
    const stream = tt.streamDecoder();
    const ids = tt.encode(text, { addBos: false });
    expect(ids.map((id) => stream.push(id)).join('') + stream.flush()).toBe(text);
    expect(() => tt.decode([99999])).toThrow(InputError);
  });

  it('loads from a folder that has tiktoken.model and tokenizer_config.json', async () => {
    await writeFile(join(dir, 'tiktoken.model'), model);
    await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(config));
    const tok = await loadTokenizer(dir);
    expect(tok?.configFile).toBe(`${dir}/tokenizer_config.json`);
    // Loaded with Kimi's default pattern, which splits plain English as GPT-2's does.
    expect(tok?.encode('Blessed are the')).toEqual([0, 71, 3096, 449, 264]);
  });

  it('names the missing file when a folder has only one of tiktoken.model and tokenizer_config.json', async () => {
    const only = await mkdtemp(join(dir, 'only-'));
    await writeFile(join(only, 'tiktoken.model'), model);
    await expect(loadTokenizer(only)).rejects.toThrow(`${only}: has tiktoken.model but no tokenizer_config.json`);
    await rm(join(only, 'tiktoken.model'));
    await writeFile(join(only, 'tokenizer_config.json'), '{}');
    await expect(loadTokenizer(only)).rejects.toThrow(`${only}: has tokenizer_config.json but no tokenizer.json or tiktoken.model`);
  });
});

describe('tiktoken chunking (the Python tokenizer encodes long texts in pieces)', () => {
  it('cuts runs longer than maxRun and every maxChars code points, and nowhere else', () => {
    const cut = TextTokenizer.fromTiktoken(model, config, {}, { pattern: GPT2_PATTERN, chunking: { maxChars: 12, maxRun: 4 } });
    const enc = (text: string) => tt.encode(text, { addBos: false });
    const encCut = (text: string) => cut.encode(text, { addBos: false });
    // A 6-letter word is cut after 4 letters; the space run of 3 and the word of 3 are not.
    expect(encCut('thenth   the')).toEqual([...enc('then'), ...enc('th   the')]);
    // 13 code points (the emoji is one, though two UTF-16 units): cut after the 12th, inside the last word.
    expect(encCut('ab ab ab 😀 ab')).toEqual([...enc('ab ab ab 😀 a'), ...enc('b')]);
    expect(encCut('the the')).toEqual(enc('the the'));
    expect(encCut('')).toEqual([]);
  });
});

describe('tiktoken.model validation', () => {
  const bytes = Array.from({ length: 256 }, (_, b) => `${btoa(String.fromCharCode(b))} ${b}`);
  const parse = (lines: string[]) => () => new TiktokenBpe(lines.join('\n'), new Map(), { file: 'x/tiktoken.model' });

  it('names the file and line of a malformed entry', () => {
    expect(parse([...bytes, 'YWI= 256'])).not.toThrow();
    expect(parse([...bytes, 'YWI=256'])).toThrow('x/tiktoken.model: line 257: expected "<base64 bytes> <rank>"');
    expect(parse([...bytes, 'Y!I= 256'])).toThrow("line 257: token 'Y!I=' is not base64");
    expect(parse([...bytes, 'YWI= -3'])).toThrow("line 257: rank '-3' is not a non-negative integer");
    expect(parse([...bytes, 'YWI= 5'])).toThrow('line 257: rank 5 is listed twice');
    expect(parse([...bytes, 'YQ== 300'])).toThrow("line 257: token 'YQ==' is listed twice");
    expect(parse(bytes.slice(1))).toThrow(CheckpointError);
    expect(parse(bytes.slice(1))).toThrow('has no token for the single byte 0x00');
  });

  it('refuses special ids that collide with ranks and patterns JavaScript cannot compile', () => {
    expect(() => new TiktokenBpe(bytes.join('\n'), new Map([[7, { content: '[BOS]', special: true }]]))).toThrow("special token '[BOS]' has id 7, which this file already gives to a token");
    expect(() => new TiktokenBpe(bytes.join('\n'), new Map(), { pattern: '[\\p{L}&&[^\\p{Han}]' })).toThrow(InputError);
  });
});

describe('Kimi-K2 pre-tokenization pattern', () => {
  const split = (text: string) => [...text.matchAll(new RegExp(KIMI_PATTERN, 'gv'))].map((m) => m[0]);

  it('gives Han runs their own pieces and keeps the rest o200k-like', () => {
    expect(split('中文English混合')).toEqual(['中文', 'English', '混合']);
    expect(split('北京市 Pascal')).toEqual(['北京市', ' Pascal']);
    expect(split("HELLO'S they'Re CamelCase")).toEqual(["HELLO'S", " they'Re", ' Camel', 'Case']);
    expect(split('1234567 ab')).toEqual(['123', '456', '7', ' ab']);
    expect(split('a  \n\n b!!\n')).toEqual(['a', '  \n\n', ' b', '!!\n']);
    expect(split('x   y')).toEqual(['x', '  ', ' y']);
  });
});
