import { describe, expect, it } from 'vitest';
import { parseByteSize } from './byte-size.ts';
import { InputError } from './errors.ts';

describe('parseByteSize', () => {
  it.each([
    ['4GB', 4e9],
    ['6G', 6 * 2 ** 30],
    ['6g', 6 * 2 ** 30],
    ['512MiB', 512 * 2 ** 20],
    ['1.5 GiB', 1.5 * 2 ** 30],
    ['100KB', 100_000],
    ['2T', 2 * 2 ** 40],
    ['12345', 12345],
    ['12345B', 12345],
  ])('%s is %d bytes', (text, bytes) => {
    expect(parseByteSize(text, '--gpu-memory')).toBe(bytes);
  });
  it.each(['', 'GB', '4 XB', '-1G', '4iB', '0', '1e9'])('refuses %j naming the option', (text) => {
    expect(() => parseByteSize(text, '--gpu-memory')).toThrow(InputError);
    expect(() => parseByteSize(text, '--gpu-memory')).toThrow(/^--gpu-memory: expected a/);
  });
});
