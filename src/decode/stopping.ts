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

/**
 * A generation's text as its tokens complete it, with stop strings applied: `accept` returns the part that can
 * be shown now, holding back a tail that may still start a stop string. `stopped` once one has appeared (the
 * text is cut before it).
 */
export class StopText {
  /** All decoded text, including a tail held back while it may start a stop string. */
  text = '';
  stopped = false;
  /** Characters of `text` already returned. */
  private emitted = 0;
  private readonly holdBack: number;

  constructor(private readonly stops: readonly string[]) {
    this.holdBack = Math.max(0, longestStop(stops) - 1);
  }

  accept(piece: string): string {
    const searchFrom = this.text.length;
    this.text += piece;
    const hit = this.stops.length ? findStopString(this.text, this.stops, searchFrom) : null;
    if (hit) {
      this.text = this.text.slice(0, hit.index);
      this.stopped = true;
    }
    const safe = hit ? this.text.length : Math.max(this.emitted, this.text.length - this.holdBack);
    const out = this.text.slice(this.emitted, safe);
    this.emitted = safe;
    return out;
  }

  /** The held-back tail, once no stop string can come any more ('' when none). */
  flush(): string {
    const out = this.text.slice(this.emitted);
    this.emitted = this.text.length;
    return out;
  }
}
