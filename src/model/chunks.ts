// How a run of positions is cut into forward calls. Every prefill loop (main model, MTP rows, the
// speculator's prefill) goes through this one helper so that "which chunk is the last" — the one whose
// submission carries lm_head, the sampler and the read-back — is decided the same way everywhere.

export interface Chunk {
  /** First position of the chunk (an index into the run). */
  start: number;
  /** One past its last position. */
  end: number;
  /** The run's final chunk. */
  last: boolean;
}

/** Consecutive chunks of at most `size` positions covering [0, length); none when length is 0. */
export function* chunks(length: number, size: number): Generator<Chunk> {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`chunk size must be a positive integer, got ${size}`);
  for (let start = 0; start < length; start += size) {
    const end = Math.min(start + size, length);
    yield { start, end, last: end === length };
  }
}
