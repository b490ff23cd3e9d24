// Which byte ranges to fetch for a set of tensors: the tensors' spans of each file sorted by offset and merged
// into few large ranges, so a page loading a checkpoint over HTTP issues a handful of requests instead of one
// per tensor (each request costs a round trip, and browsers run only a few at a time per host). Two spans merge
// when the gap between them is small (the gap's bytes are fetched and dropped: cheaper than a request) and the
// range stays under a size that bounds the memory one range holds; a span larger than that is cut into pieces.

/** Bytes [begin, end) of one file, as a TensorInfo (file = ByteSource.name) gives them. */
export interface ByteSpan {
  file: string;
  begin: number;
  end: number;
}

/** One range to fetch, with the bytes inside it that a caller will read (the rest is gaps). */
export interface ReadRange extends ByteSpan {
  /** The spans (clipped to the range) this range was made for, sorted by offset. */
  spans: ByteSpan[];
}

export interface ReadPlanOptions {
  /** Largest gap between two spans merged into one range; default 1 MiB. */
  maxGap?: number;
  /** Largest range; a longer span is cut into pieces of this size. Default 32 MiB. */
  maxBytes?: number;
}

export const DEFAULT_MAX_GAP = 1 << 20;
export const DEFAULT_RANGE_BYTES = 32 << 20;

/** The ranges covering `spans` (any order, several files; empty spans ignored), sorted by file then offset. */
export function planReadRanges(spans: readonly ByteSpan[], options: ReadPlanOptions = {}): ReadRange[] {
  const maxGap = options.maxGap ?? DEFAULT_MAX_GAP;
  const maxBytes = options.maxBytes ?? DEFAULT_RANGE_BYTES;
  if (!(maxGap >= 0) || !Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new RangeError(`read plan: maxGap ${maxGap} and maxBytes ${maxBytes} must be >= 0 and >= 1`);
  const sorted = spans.filter((s) => s.end > s.begin).sort(compareSpans);
  const ranges: ReadRange[] = [];
  let current: ReadRange | undefined;
  for (const span of sorted) {
    for (let begin = span.begin; begin < span.end; ) {
      const fits = current && current.file === span.file && begin - current.end <= maxGap && begin >= current.begin;
      // Take as much of the span as the current range has room for; a new range starts at `begin`.
      const limit = fits ? current!.begin + maxBytes : begin + maxBytes;
      if (fits && limit <= begin) {
        current = undefined;
        continue;
      }
      const end = Math.min(span.end, limit);
      if (!fits) {
        current = { file: span.file, begin, end, spans: [] };
        ranges.push(current);
      }
      current!.end = Math.max(current!.end, end);
      current!.spans.push({ file: span.file, begin, end });
      begin = end;
      if (end < span.end) current = undefined; // the range is full
    }
  }
  return ranges;
}

/**
 * `ranges` reordered by when they are first needed: the position in `inUseOrder` (spans in the order a
 * reader will read them) of the first span each range holds bytes of. Ranges no span touches go last; ties
 * keep file order, so the pieces of one large span stay in sequence.
 */
export function orderByFirstUse(ranges: readonly ReadRange[], inUseOrder: readonly ByteSpan[]): ReadRange[] {
  const first = new Map<ReadRange, number>();
  const indexed = inUseOrder.map((span, i) => ({ span, i })).sort((a, b) => compareSpans(a.span, b.span));
  let r = 0;
  for (const { span, i } of indexed) {
    while (r < ranges.length && (ranges[r].file < span.file || (ranges[r].file === span.file && ranges[r].end <= span.begin))) r++;
    for (let k = r; k < ranges.length && ranges[k].file === span.file && ranges[k].begin < span.end; k++) {
      first.set(ranges[k], Math.min(first.get(ranges[k]) ?? Infinity, i));
    }
  }
  return [...ranges].sort((a, b) => (first.get(a) ?? Infinity) - (first.get(b) ?? Infinity));
}

function compareSpans(a: ByteSpan, b: ByteSpan): number {
  return a.file < b.file ? -1 : a.file > b.file ? 1 : a.begin - b.begin;
}
