// When generation ends, and why: an end-of-sequence token, a stop string in the text, the token budget,
// or the end of the context (the KV cache is full). Nothing generated before the stop is lost.
export type FinishReason = 'eos' | 'stop' | 'length' | 'context';

export interface StopOptions {
  maxNewTokens: number;
  eosTokenIds: readonly number[];
  /** Generation stops when the decoded text contains one; the text up to it is kept. */
  stopStrings?: readonly string[];
}

/** Where the earliest stop string starts in `text`, searching only the part that may have changed. */
export function findStopString(text: string, stops: readonly string[], searchFrom: number): { index: number; stop: string } | null {
  let best: { index: number; stop: string } | null = null;
  for (const stop of stops) {
    if (!stop) continue;
    const index = text.indexOf(stop, Math.max(0, searchFrom - stop.length + 1));
    if (index >= 0 && (!best || index < best.index)) best = { index, stop };
  }
  return best;
}

/**
 * The length of the longest stop string. A loop: spreading a list a client sent into Math.max's arguments
 * overflows the stack once the list is long (200,000 stop strings were a 500).
 */
export function longestStop(stops: readonly string[]): number {
  let longest = 0;
  for (const stop of stops) longest = Math.max(longest, stop.length);
  return longest;
}
