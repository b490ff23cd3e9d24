import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../config/model-config.ts';
import { InputError } from '../errors.ts';
import type { TextTokenizer } from '../tokenizer/tokenizer.ts';
import { documentMarkers, documentStream, splitDocuments } from './documents.ts';

describe('splitDocuments', () => {
  it('splits at lines holding only 0x1E, taking the newline on each side with the separator', () => {
    expect(splitDocuments('a b\nc\n\x1e\nd\n\x1e\ne f\n')).toEqual(['a b\nc', 'd', 'e f\n']);
  });

  it('text without a separator line is one document, kept as it is', () => {
    expect(splitDocuments('one\ntwo\n')).toEqual(['one\ntwo\n']);
    expect(splitDocuments('')).toEqual(['']);
  });

  it('a separator inside a line, or beside other characters, is text', () => {
    expect(splitDocuments('a\x1eb\n\x1e \nc')).toEqual(['a\x1eb\n\x1e \nc']);
  });

  it('separators at the ends and back to back give empty documents', () => {
    expect(splitDocuments('\x1e\na\n\x1e\n\x1e\nb\n\x1e')).toEqual(['', 'a', '', 'b', '']);
  });
});

describe('documentStream', () => {
  const encode = (d: string) => [...d].map((ch) => ch.charCodeAt(0));

  it('frames every document as [bos] + ids + [eos], in order', () => {
    expect(documentStream(['ab', '', 'c'], encode, { bos: 0, eos: 1 })).toEqual([0, 97, 98, 1, 0, 1, 0, 99, 1]);
  });
});

describe('documentMarkers', () => {
  const config = (bos: number | null, eos: number[]) => ({ bosTokenId: bos, eosTokenIds: eos }) as unknown as ModelConfig;
  const tokenizer = (bos: number | null, eos: number | null) => ({ bosId: bos, eosId: eos }) as unknown as TextTokenizer;

  it("takes the tokenizer's BOS and EOS, else config.json's", () => {
    expect(documentMarkers(tokenizer(5, 6), config(0, [1]))).toEqual({ bos: 5, eos: 6 });
    expect(documentMarkers(null, config(0, [1, 2]))).toEqual({ bos: 0, eos: 1 });
    expect(documentMarkers(tokenizer(null, 6), config(3, []))).toEqual({ bos: 3, eos: 6 });
  });

  it('refuses a model that names no BOS or no EOS', () => {
    expect(() => documentMarkers(null, config(null, [1]))).toThrow(InputError);
    expect(() => documentMarkers(null, config(0, []))).toThrow(/no EOS token/);
  });
});
