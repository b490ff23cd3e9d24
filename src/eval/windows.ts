// How a token stream is cut for perplexity: non-overlapping windows, each run as a sequence of its own.
// A window of `window` predictions spans window + 1 tokens (its first token predicts nothing, its last is
// only predicted), and the next window starts on that last token, so every token after the first is
// predicted exactly once, from 1 to `window` tokens of context.
import { InputError } from '../errors.ts';

/**
 * Start offsets of the whole windows of `window + 1` tokens at 0, window, 2·window, ... in a stream of
 * `length` tokens; a partial window at the end is dropped (its predictions would have less context than the
 * same positions elsewhere, and figures would stop being comparable across window counts). At most
 * `maxWindows` (the first ones) when given.
 */
export function windowStarts(length: number, window: number, maxWindows = Infinity): number[] {
  if (!Number.isSafeInteger(window) || window < 1) throw new InputError('window', `must be an integer >= 1, got ${window}`);
  if (maxWindows !== Infinity && (!Number.isSafeInteger(maxWindows) || maxWindows < 1)) {
    throw new InputError('maxWindows', `must be an integer >= 1, got ${maxWindows}`);
  }
  const whole = length > window ? Math.floor((length - 1) / window) : 0;
  return Array.from({ length: Math.min(whole, maxWindows) }, (_, i) => i * window);
}
