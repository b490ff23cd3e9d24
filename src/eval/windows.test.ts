import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.ts';
import { windowStarts } from './windows.ts';

describe('windowStarts', () => {
  it('whole windows of window + 1 tokens at 0, window, 2·window, ...; a partial last one is dropped', () => {
    expect(windowStarts(9, 4)).toEqual([0, 4]); // [0..4], [4..8]
    expect(windowStarts(12, 4)).toEqual([0, 4]); // [8..11] is partial
    expect(windowStarts(13, 4)).toEqual([0, 4, 8]);
  });

  it('the held-out figure: 46,226 tokens make 180 windows of 257', () => {
    const starts = windowStarts(46_226, 256);
    expect(starts).toHaveLength(180);
    expect(starts.at(-1)).toBe(179 * 256);
  });

  it('a stream shorter than one window has none', () => {
    expect(windowStarts(4, 4)).toEqual([]);
    expect(windowStarts(0, 1)).toEqual([]);
    expect(windowStarts(2, 1)).toEqual([0]);
  });

  it('maxWindows keeps the first ones', () => {
    expect(windowStarts(100, 4, 3)).toEqual([0, 4, 8]);
    expect(windowStarts(9, 4, 5)).toEqual([0, 4]);
  });

  it('refuses a window or maxWindows that is not a positive integer', () => {
    for (const w of [0, -1, 2.5, NaN]) expect(() => windowStarts(10, w)).toThrow(InputError);
    for (const m of [0, 1.5]) expect(() => windowStarts(10, 2, m)).toThrow(/maxWindows: must be an integer >= 1/);
  });
});
