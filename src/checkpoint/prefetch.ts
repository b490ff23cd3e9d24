// Fetches a checkpoint's read ranges (./read-plan.ts) ahead of the reader that needs them: a few ranges in
// flight at once, in the order the reader will want them, while it uploads what came before. Reads inside a
// fetched range are served from it; a range is dropped as soon as every byte a caller needs from it has been
// read, and ranges are fetched ahead only up to `aheadBytes`, so memory stays bounded whatever the model's size
// (a range needed now is fetched at once, ahead of that limit). A read no range covers goes to the file.
import type { ByteSource } from './byte-source.ts';
import type { ReadRange } from './read-plan.ts';

export interface PrefetchOptions {
  /** Ranges fetched at the same time; default 4. */
  concurrency?: number;
  /** Bytes fetched ahead of the reader and not yet read; default 128 MiB (at least one range is). */
  aheadBytes?: number;
  /** After each range arrives: bytes fetched so far, of the plan's total. */
  onBytes?: (done: number, total: number) => void;
}

export const DEFAULT_CONCURRENCY = 4;
export const DEFAULT_AHEAD_BYTES = 128 << 20;

/** One planned range: its data once started, and which of the bytes callers need have been read. */
class Slot {
  data: Promise<Uint8Array> | undefined;
  released = false;
  /** Per span of the range (sorted, disjoint), the parts of it read so far as sorted disjoint [begin, end) pairs. */
  private readonly readOfSpan: [number, number][][];
  /** Needed bytes not read yet. */
  private remaining: number;

  constructor(readonly range: ReadRange) {
    this.readOfSpan = range.spans.map(() => []);
    this.remaining = range.spans.reduce((n, s) => n + s.end - s.begin, 0);
  }

  get size(): number {
    return this.range.end - this.range.begin;
  }

  /**
   * Notes [begin, end) as read; true when every needed byte now has been. A tensor is read in a few pieces, so
   * each span's list stays short however many spans a range holds (thousands of experts).
   */
  consume(begin: number, end: number): boolean {
    const spans = this.range.spans;
    let lo = 0, hi = spans.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (spans[mid].end <= begin) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < spans.length && spans[i].begin < end; i++) {
      const b = Math.max(spans[i].begin, begin), e = Math.min(spans[i].end, end);
      const before = total(this.readOfSpan[i]);
      this.readOfSpan[i] = merge([...this.readOfSpan[i], [b, e]]);
      this.remaining -= total(this.readOfSpan[i]) - before;
    }
    return this.remaining <= 0;
  }
}

export class RangePrefetcher {
  private readonly slots: Slot[];
  /** Per file, the slots sorted by offset, to find the ones a read overlaps. */
  private readonly byFile = new Map<string, Slot[]>();
  private next = 0;
  private inFlight = 0;
  /** Bytes of ranges started and not yet released. */
  private held = 0;
  private fetched = 0;
  private readonly total: number;
  private closed = false;
  private readonly concurrency: number;
  private readonly aheadBytes: number;

  /** `ranges` in the order the reader will need them; `sources` by ByteSource.name (= ByteSpan.file). */
  constructor(
    private readonly sources: ReadonlyMap<string, ByteSource>,
    ranges: readonly ReadRange[],
    private readonly options: PrefetchOptions = {},
  ) {
    this.concurrency = Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY);
    this.aheadBytes = options.aheadBytes ?? DEFAULT_AHEAD_BYTES;
    this.slots = ranges.map((r) => new Slot(r));
    for (const slot of this.slots) {
      if (!sources.has(slot.range.file)) throw new Error(`prefetch: no open file ${slot.range.file}`);
      const list = this.byFile.get(slot.range.file) ?? [];
      list.push(slot);
      this.byFile.set(slot.range.file, list);
    }
    for (const list of this.byFile.values()) list.sort((a, b) => a.range.begin - b.range.begin);
    this.total = this.slots.reduce((n, s) => n + s.size, 0);
    this.pump();
  }

  /** Bytes the plan fetches in all. */
  get totalBytes(): number {
    return this.total;
  }

  /**
   * Bytes [offset, offset + length) of `file` when planned ranges cover them all (fetched, or fetched now),
   * else undefined: the caller reads the file itself.
   */
  async read(file: string, offset: number, length: number): Promise<Uint8Array | undefined> {
    const end = offset + length;
    const slots = this.overlapping(file, offset, end);
    if (this.closed || slots.length === 0 || !contiguous(slots, offset, end) || slots.some((s) => s.released)) return undefined;
    for (const slot of slots) this.start(slot);
    // Taken now: a concurrent read may release a slot while this one awaits.
    const pending = slots.map((s) => s.data!);
    const out = new Uint8Array(length);
    for (const [i, slot] of slots.entries()) {
      const data = await pending[i];
      const b = Math.max(offset, slot.range.begin), e = Math.min(end, slot.range.end);
      out.set(data.subarray(b - slot.range.begin, e - slot.range.begin), b - offset);
      if (!slot.released && slot.consume(b, e)) this.release(slot);
    }
    return out;
  }

  /** Stops fetching ahead and drops every range held (reads after this go to the files). */
  close(): void {
    this.closed = true;
    for (const slot of this.slots) if (!slot.released) this.release(slot);
  }

  private overlapping(file: string, begin: number, end: number): Slot[] {
    const list = this.byFile.get(file);
    if (!list) return [];
    let lo = 0, hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid].range.end <= begin) lo = mid + 1;
      else hi = mid;
    }
    const out: Slot[] = [];
    for (let i = lo; i < list.length && list[i].range.begin < end; i++) out.push(list[i]);
    return out;
  }

  /** Starts fetching ahead while there is room: a free request and bytes under the ahead limit. */
  private pump(): void {
    while (!this.closed && this.inFlight < this.concurrency && this.next < this.slots.length) {
      const slot = this.slots[this.next];
      if (slot.data || slot.released) {
        this.next++;
        continue;
      }
      if (this.held > 0 && this.held + slot.size > this.aheadBytes) return;
      this.start(slot);
    }
  }

  private start(slot: Slot): void {
    if (slot.data) return;
    const { file, begin } = slot.range;
    this.inFlight++;
    this.held += slot.size;
    slot.data = this.sources.get(file)!.read(begin, slot.size).finally(() => {
      this.inFlight--;
      this.pump();
    });
    slot.data.then(
      () => {
        this.fetched += slot.size;
        if (!this.closed) this.options.onBytes?.(this.fetched, this.total);
      },
      () => {}, // the read that awaits it reports the error
    );
  }

  private release(slot: Slot): void {
    slot.released = true;
    if (slot.data) this.held -= slot.size;
    slot.data = undefined;
    this.pump();
  }
}

/** True when the sorted `slots` leave no hole in [begin, end). */
function contiguous(slots: Slot[], begin: number, end: number): boolean {
  let at = begin;
  for (const s of slots) {
    if (s.range.begin > at) return false;
    at = Math.max(at, s.range.end);
  }
  return at >= end;
}

function merge(intervals: [number, number][]): [number, number][] {
  intervals.sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [b, e] of intervals) {
    const last = out[out.length - 1];
    if (last && b <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([b, e]);
  }
  return out;
}

function total(intervals: readonly [number, number][]): number {
  return intervals.reduce((n, [b, e]) => n + e - b, 0);
}
