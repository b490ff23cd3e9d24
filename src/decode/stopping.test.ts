import { describe, expect, it } from 'vitest';
import { findStopString, longestStop } from './stopping.ts';

describe('stop strings', () => {
  it('longestStop copes with any number of them', () => {
    expect(longestStop([])).toBe(0);
    expect(longestStop(['ab', '', 'abcd'])).toBe(4);
    expect(longestStop(Array.from({ length: 1_000_000 }, (_, i) => (i === 7 ? 'xyz' : 'a')))).toBe(3);
  });

  it('findStopString finds the earliest, skipping empty ones', () => {
    expect(findStopString('one two three', ['', 'three', 'two'], 0)).toEqual({ index: 4, stop: 'two' });
    expect(findStopString('one two', ['x'], 0)).toBeNull();
  });
});
