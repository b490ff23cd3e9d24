// The prefetcher against a byte source that counts and delays its reads: exact bytes whichever way reads fall
// (inside one range, across two, outside any), no more than `concurrency` reads at once, no more than
// `aheadBytes` fetched ahead, each range fetched once, and a failed fetch reaching the read that needed it.
import { describe, expect, it } from 'vitest';
import { CheckpointError } from '../errors.ts';
import type { ByteSource } from './byte-source.ts';
import { RangePrefetcher } from './prefetch.ts';
import { planReadRanges, type ByteSpan } from './read-plan.ts';

/** A file of `size` bytes (byte i = i * 7 mod 251) whose reads resolve after a tick, counted. */
function countingSource(name: string, size: number, failAt?: number) {
  const bytes = Uint8Array.from({ length: size }, (_, i) => (i * 7) % 251);
  const stats = { reads: [] as [number, number][], inFlight: 0, maxInFlight: 0 };
  const source: ByteSource = {
    name,
    size,
    read: async (offset, length) => {
      stats.reads.push([offset, length]);
      stats.inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      await new Promise((r) => setTimeout(r, 1));
      stats.inFlight--;
      if (failAt !== undefined && offset <= failAt && failAt < offset + length) throw new CheckpointError(name, 'short read');
      return bytes.slice(offset, offset + length);
    },
  };
  return { source, bytes, stats };
}

// 37 "tensors" of 1000..1036 bytes with 3-byte gaps: sizes nothing divides.
const spans: ByteSpan[] = [];
for (let i = 0, at = 5; i < 37; i++) {
  spans.push({ file: 'f', begin: at, end: at + 1000 + i });
  at += 1003 + i;
}
const size = spans.at(-1)!.end + 11;

describe('RangePrefetcher', () => {
  it('serves every tensor exactly, fetching each range once, at most `concurrency` at a time and `aheadBytes` ahead', async () => {
    const { source, bytes, stats } = countingSource('f', size);
    const ranges = planReadRanges(spans, { maxGap: 8, maxBytes: 4999 });
    const progress: number[] = [];
    const p = new RangePrefetcher(new Map([['f', source]]), ranges, { concurrency: 2, aheadBytes: 12_000, onBytes: (done) => progress.push(done) });
    for (const s of spans) {
      // Each tensor in two reads, the second one crossing a range boundary for some.
      const mid = s.begin + 400;
      expect(await p.read('f', s.begin, mid - s.begin)).toEqual(bytes.subarray(s.begin, mid));
      expect(await p.read('f', mid, s.end - mid)).toEqual(bytes.subarray(mid, s.end));
    }
    expect(stats.reads).toEqual(ranges.map((r) => [r.begin, r.end - r.begin]));
    expect(stats.maxInFlight).toBeLessThanOrEqual(2);
    expect(progress.at(-1)).toBe(p.totalBytes);
    expect(p.totalBytes).toBe(ranges.reduce((n, r) => n + r.end - r.begin, 0));
    // Everything read: every range released, so a read now goes to the file.
    expect(await p.read('f', spans[0].begin, 10)).toBeUndefined();
  });

  it('keeps no more than aheadBytes fetched and unread while the reader is slow', async () => {
    const { source, stats } = countingSource('f', size);
    const ranges = planReadRanges(spans, { maxGap: 8, maxBytes: 3001 });
    const p = new RangePrefetcher(new Map([['f', source]]), ranges, { concurrency: 4, aheadBytes: 7000 });
    await new Promise((r) => setTimeout(r, 30));
    const fetchedBytes = stats.reads.reduce((n, [, length]) => n + length, 0);
    expect(fetchedBytes).toBeLessThanOrEqual(7000);
    expect(stats.reads.length).toBe(2); // two ranges of ~3000 bytes fit under 7000, a third would not
    p.close();
  });

  it('leaves reads outside its ranges, and reads of released ranges, to the file', async () => {
    const { source } = countingSource('f', size);
    const p = new RangePrefetcher(new Map([['f', source]]), planReadRanges(spans.slice(0, 2), { maxGap: 8 }), {});
    expect(await p.read('f', 0, 8)).toBeUndefined(); // the bytes before the first tensor: a gap at the edge
    expect(await p.read('g', 5, 10)).toBeUndefined(); // another file
    expect(await p.read('f', spans[0].begin, spans[1].end - spans[0].begin)).toBeDefined();
    expect(await p.read('f', spans[0].begin, 10)).toBeUndefined(); // eh_proj-style second read: from the file
  });

  it('a failed range fetch fails the read that needs it with the source error', async () => {
    const { source } = countingSource('f', size, spans[20].begin + 3);
    const p = new RangePrefetcher(new Map([['f', source]]), planReadRanges(spans, { maxGap: 8, maxBytes: 5000 }), {});
    await expect(p.read('f', spans[20].begin, 100)).rejects.toThrow(/short read/);
    expect(await p.read('f', spans[0].begin, 100)).toBeDefined();
    p.close();
  });
});
