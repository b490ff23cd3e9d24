// TextTokenizer on the trained tiny model's tokenizer (weights/tiny-v3-trained): exact ids from the
// Python-side golden data and from an independent BPE, round trips, BOS handling and streaming decode.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { openCheckpointDir } from '../checkpoint/sources/node-file.ts';
import { InputError } from '../errors.ts';
import { ReferenceBpe } from './test-bpe.ts';
import { TextTokenizer } from './tokenizer.ts';

const DIR = 'weights/tiny-v3-trained';
const readJson = (file: string) => JSON.parse(readFileSync(`${DIR}/${file}`, 'utf8'));
const BOS_TEXT = '<｜begin▁of▁sentence｜>';

const SENTENCES = [
  'In the beginning God created the heaven and the earth.',
  'Blessed are the',
  'river: a large natural stream of water',
  "And he said, I'll go; they're 12 men\n\nand 3000 sheep.  Amen",
];
// Multi-byte characters this corpus never merged, so each is split over 2-4 byte tokens.
const NON_ASCII = ['café — naïve', 'emoji 😀👍🏽 end', '中文字 and 日本語', 'Zürich\tÅngström\r\n¿qué?'];

let tok: TextTokenizer;
let json: any;
beforeAll(() => {
  json = readJson('tokenizer.json');
  tok = new TextTokenizer(json, readJson('tokenizer_config.json'));
});

describe('tiny-v3-trained tokenizer: ids', () => {
  it('knows its special ids and size', () => {
    expect([tok.bosId, tok.eosId, tok.vocabSize]).toEqual([0, 1, 4096]);
    const names = ['<｜begin▁of▁sentence｜>', '<｜end▁of▁sentence｜>', '<｜▁pad▁｜>', '<｜User｜>', '<｜Assistant｜>'];
    expect(names.map((_, id) => tok.idToToken(id))).toEqual(names);
    expect([...tok.specialTokens].sort()).toEqual([...names].sort());
    expect([...tok.specialIds].sort()).toEqual([0, 1, 2, 3, 4]);
    expect(tok.tokenToId('<｜User｜>')).toBe(3);
    expect(tok.idToToken(4096)).toBeUndefined();
  });

  it('encodes the golden sequences to the ids the Python tokenizer gave', async () => {
    // golden.json has each sequence's text (BOS written as text); golden.safetensors has its ids.
    const golden = readJson('golden.json');
    const tensors = await openCheckpointDir(DIR, { file: 'golden.safetensors' });
    try {
      for (const seq of golden.sequences as { key: string; text: string }[]) {
        const ids = Array.from(await tensors.readIntegers(`${seq.key}.tokens`));
        expect(tok.encode(seq.text, { addBos: false }), seq.key).toEqual(ids);
        expect(tok.decode(ids), seq.key).toBe(seq.text);
      }
    } finally {
      await tensors.close();
    }
    expect(tok.encode(golden.greedy.prompt_text, { addBos: false })).toEqual(golden.greedy.prompt);
    expect(tok.decode(golden.greedy.tokens)).toBe(golden.greedy.continuation_text);
  });

  it('matches an independent byte-level BPE on English and non-ASCII text', () => {
    const ref = new ReferenceBpe(json);
    for (const text of [...SENTENCES, ...NON_ASCII]) {
      expect(tok.encode(text, { addBos: false }), JSON.stringify(text)).toEqual(ref.encode(text));
    }
    // Pinned as well, so a change in both implementations at once still shows.
    expect(tok.encode(SENTENCES[0], { addBos: false })).toEqual([1743, 264, 2490, 461, 3180, 264, 988, 280, 264, 799, 51]);
    expect(tok.encode(SENTENCES[1], { addBos: false })).toEqual([71, 3096, 449, 264]); // B|lessed|Ġare|Ġthe
    expect(tok.encode(SENTENCES[2], { addBos: false })).toEqual([354, 350, 63, 263, 1763, 2593, 364, 1551, 273, 938]);
  });

  it('adds exactly one BOS by default (add_bos_token), none when told, and parses BOS written as text', () => {
    const body = tok.encode(SENTENCES[0], { addBos: false });
    expect(body).not.toContain(0);
    expect(tok.addsBosByDefault).toBe(true);
    expect(tok.encode(SENTENCES[0])).toEqual([0, ...body]);
    expect(tok.encode(SENTENCES[0], { addBos: true })).toEqual([0, ...body]);
    expect(tok.encode(BOS_TEXT + SENTENCES[0], { addBos: false })).toEqual([0, ...body]);
    expect(tok.encode('')).toEqual([0]);
    expect(tok.encode('', { addBos: false })).toEqual([]);
  });

  it('follows the config: add_bos_token false means no BOS by default', () => {
    const noBos = new TextTokenizer(json, { ...readJson('tokenizer_config.json'), add_bos_token: false });
    expect(noBos.encode('Blessed are the')).toEqual([71, 3096, 449, 264]);
  });
});

describe('tiny-v3-trained tokenizer: decode', () => {
  it('round-trips ASCII and non-ASCII text', () => {
    for (const text of [...SENTENCES, ...NON_ASCII, ' leading and trailing  ', '']) {
      expect(tok.decode(tok.encode(text, { addBos: false }))).toBe(text);
    }
  });

  it('keeps special tokens as text unless asked to skip them', () => {
    const ids = [0, 3, ...tok.encode('Hello', { addBos: false }), 4, 1];
    expect(tok.decode(ids)).toBe('<｜begin▁of▁sentence｜><｜User｜>Hello<｜Assistant｜><｜end▁of▁sentence｜>');
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('Hello');
  });

  it('names a bad id instead of dropping it', () => {
    expect(() => tok.decode([5, 4096])).toThrow(InputError);
    expect(() => tok.decode([5, 4096])).toThrow(/token id 4096 at index 1 .*vocab size 4096/);
    expect(() => tok.decode([1.5])).toThrow(/token id 1.5 at index 0/);
    expect(() => tok.decode([-1])).toThrow(InputError);
    expect(() => tok.encode(42 as unknown as string)).toThrow(/text: expected a string/);
  });
});

describe('streaming decode', () => {
  it('yields the one-shot text chunk by chunk, never a broken character', () => {
    for (const text of [...NON_ASCII, ...SENTENCES]) {
      const ids = tok.encode(text, { addBos: false });
      const stream = tok.streamDecoder();
      const chunks = ids.map((id) => stream.push(id));
      chunks.push(stream.flush());
      for (const c of chunks) expect(c, JSON.stringify(chunks)).not.toContain('\uFFFD');
      expect(chunks.join('')).toBe(tok.decode(ids));
    }
  });

  it('holds back the bytes of a split character until it completes', () => {
    const ids = tok.encode('😀', { addBos: false });
    expect(ids.length).toBeGreaterThan(1); // the test needs a character spread over several tokens
    expect(tok.decode(ids.slice(0, 1))).toContain('\uFFFD'); // what naive per-token decoding would print
    const stream = tok.streamDecoder();
    expect(ids.slice(0, -1).map((id) => stream.push(id))).toEqual(ids.slice(0, -1).map(() => ''));
    expect(stream.push(ids[ids.length - 1])).toBe('😀');
  });

  it('flushes an unfinished character as U+FFFD, as a one-shot decode shows it', () => {
    const ids = tok.encode('a😀', { addBos: false }).slice(0, -1);
    const stream = tok.streamDecoder();
    const text = ids.map((id) => stream.push(id)).join('') + stream.flush();
    expect(text).toBe(tok.decode(ids));
    expect(text.endsWith('\uFFFD')).toBe(true);
    expect(stream.flush()).toBe(''); // flush started over
  });

  it('passes special tokens through, or skips them', () => {
    const ids = [0, ...tok.encode('Hi é', { addBos: false }), 1];
    const keep = tok.streamDecoder();
    expect(ids.map((id) => keep.push(id)).join('') + keep.flush()).toBe(tok.decode(ids));
    const skip = tok.streamDecoder({ skipSpecialTokens: true });
    expect(ids.map((id) => skip.push(id)).join('') + skip.flush()).toBe('Hi é');
  });
});
