// Read planning: tensors' byte spans merged into few ranges (small gaps bridged, a size cap, long spans cut),
// and ranges put in the order a reader first needs them.
import { describe, expect, it } from 'vitest';
import { orderByFirstUse, planReadRanges, type ByteSpan } from './read-plan.ts';

const span = (file: string, begin: number, end: number): ByteSpan => ({ file, begin, end });
const bounds = (ranges: { file: string; begin: number; end: number }[]) => ranges.map((r) => `${r.file}:${r.begin}-${r.end}`);

describe('planReadRanges', () => {
  it('merges spans across gaps up to maxGap, per file, whatever order they come in', () => {
    const spans = [span('b', 0, 10), span('a', 110, 150), span('a', 0, 100), span('a', 151, 160), span('a', 400, 401)];
    const ranges = planReadRanges(spans, { maxGap: 10, maxBytes: 1000 });
    // a: 0-100 and 110-150 (gap 10) and 151-160 (gap 1) merge; 400 is 240 past: a range of its own.
    expect(bounds(ranges)).toEqual(['a:0-160', 'a:400-401', 'b:0-10']);
    expect(ranges[0].spans.map((s) => [s.begin, s.end])).toEqual([[0, 100], [110, 150], [151, 160]]);
  });

  it('caps a range at maxBytes and cuts a longer span into pieces (sizes not multiples of anything)', () => {
    const ranges = planReadRanges([span('f', 3, 10), span('f', 10, 47), span('f', 50, 53)], { maxGap: 5, maxBytes: 13 });
    expect(bounds(ranges)).toEqual(['f:3-16', 'f:16-29', 'f:29-42', 'f:42-53']);
    // Every byte of every span is in exactly one range's spans.
    const covered = ranges.flatMap((r) => r.spans).reduce((n, s) => n + s.end - s.begin, 0);
    expect(covered).toBe(7 + 37 + 3);
    for (const r of ranges) expect(r.end - r.begin).toBeLessThanOrEqual(13);
  });

  it('skips empty spans and refuses nonsense options', () => {
    expect(planReadRanges([span('f', 5, 5)])).toEqual([]);
    expect(() => planReadRanges([], { maxBytes: 0 })).toThrow(RangeError);
  });
});

describe('orderByFirstUse', () => {
  it('orders ranges by the first span the reader needs from each; untouched ranges last, ties in file order', () => {
    const ranges = planReadRanges([span('a', 0, 30), span('a', 100, 110), span('b', 0, 5), span('c', 0, 1)], { maxGap: 0, maxBytes: 10 });
    expect(bounds(ranges)).toEqual(['a:0-10', 'a:10-20', 'a:20-30', 'a:100-110', 'b:0-5', 'c:0-1']);
    const use = [span('b', 0, 5), span('a', 100, 110), span('a', 0, 30)];
    expect(bounds(orderByFirstUse(ranges, use))).toEqual(['b:0-5', 'a:100-110', 'a:0-10', 'a:10-20', 'a:20-30', 'c:0-1']);
  });
});
