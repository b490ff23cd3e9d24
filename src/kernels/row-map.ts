// Where a step's rows live in the paged latent cache (docs/architecture.md "The paged latent cache"). A step's
// rows are grouped into segments, one per sequence: a segment's rows are consecutive positions of that
// sequence (a prefill chunk, a decode row, a verify pass). The kernels that touch the cache read:
// - row_pos [rows] u32: each row's position (RoPE in kv-append and mla-absorb-q, the causal limit in mla-decode);
// - row_slot [rows] u32: the pool row kv-append writes each row's latent to (page * page_size + pos % page_size);
// - segments [count, SEGMENT_WORDS] u32: (first_row, rows, first_pos, table_at, first_block, 0, 0, 0), with
//   table_at the segment's sequence's first entry in the page table and first_block its first 4-query-vector
//   block in mla-decode's grid;
// - pages: the page table, u32 page indices (entry table_at + i: the page holding positions i*P .. i*P + P-1).
import { InputError } from '../errors.ts';
import type { Bindable } from '../gpu/recorder.ts';

/** u32 words per segment record (two vec4s: the shader reads it as a struct). */
export const SEGMENT_WORDS = 8;

/** One sequence's rows in a step: `rows` positions from `firstPos`, its page table at entry `tableAt`. */
export interface SegmentRows {
  rows: number;
  firstPos: number;
  tableAt: number;
}

/** A step's row map as the kernels read it (host arrays, before upload). */
export interface RowMapData {
  rows: number;
  pos: Uint32Array;
  slot: Uint32Array;
  segments: Uint32Array;
  segmentCount: number;
  /** mla-decode's 4-query-vector blocks over all segments. */
  blocks: number;
  /** The longest segment's cache length (first_pos + rows): what the attention's split plan covers. */
  kvLen: number;
}

/** The row map on the GPU, with the counts the kernels' params need. */
export interface RowMap {
  rows: number;
  segmentCount: number;
  blocks: number;
  kvLen: number;
  pos: Bindable;
  slot: Bindable;
  segments: Bindable;
  pages: Bindable;
  /** log2 of the page size (rows per page, a power of two). */
  pageShift: number;
}

/** log2 of a page size, which must be a power of two (the kernels shift and mask). */
export function pageShift(pageSize: number): number {
  if (!Number.isInteger(pageSize) || pageSize < 1 || (pageSize & (pageSize - 1)) !== 0 || pageSize > 2 ** 16) {
    throw new InputError('page-size', `must be a power of two in [1, 65536], got ${pageSize}`);
  }
  return Math.log2(pageSize);
}

/**
 * The row map of `segs` (in row order) for `heads` attention heads; `page(entry)` reads the page table,
 * `pageSize` rows per page.
 */
export function rowMapData(segs: readonly SegmentRows[], heads: number, page: (entry: number) => number, pageSize: number): RowMapData {
  pageShift(pageSize); // validates it
  const rows = segs.reduce((n, s) => n + s.rows, 0);
  const pos = new Uint32Array(rows);
  const slot = new Uint32Array(rows);
  const segments = new Uint32Array(Math.max(1, segs.length) * SEGMENT_WORDS);
  let row = 0;
  let blocks = 0;
  let kvLen = 0;
  segs.forEach((s, i) => {
    if (!Number.isInteger(s.rows) || s.rows < 1) throw new InputError('rows', `segment ${i} has ${s.rows} rows; every sequence in a step needs at least one`);
    if (s.firstPos + s.rows > 2 ** 24) throw new InputError('positions', `up to ${s.firstPos + s.rows} exceed 2^24 (rope angle split)`);
    segments.set([row, s.rows, s.firstPos, s.tableAt, blocks], i * SEGMENT_WORDS);
    for (let r = 0; r < s.rows; r++) {
      const p = s.firstPos + r;
      pos[row + r] = p;
      slot[row + r] = page(s.tableAt + Math.floor(p / pageSize)) * pageSize + (p % pageSize);
    }
    row += s.rows;
    blocks += Math.ceil((s.rows * heads) / 4);
    kvLen = Math.max(kvLen, s.firstPos + s.rows);
  });
  return { rows, pos, slot, segments, segmentCount: segs.length, blocks, kvLen };
}

/**
 * One sequence stored contiguously (page i is pool page i, one page holding everything): the row map of a
 * plain `[capacity, latent]` cache, for kernel tests and benchmarks.
 */
export function contiguousRowMapData(rows: number, firstPos: number, heads: number): RowMapData & { pages: Uint32Array; pageSize: number } {
  const pageSize = 2 ** 16;
  return { ...rowMapData([{ rows, firstPos, tableAt: 0 }], heads, (e) => e, pageSize), pages: Uint32Array.of(0), pageSize };
}
