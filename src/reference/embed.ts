// Embedding lookup: rows of table [vocab, hidden] for each token id, widened to float64.
import { InputError } from '../errors.ts';
import type { Matrix } from './weights.ts';

export function embed(table: Matrix, tokens: readonly number[], argument = 'tokens'): Float64Array {
  const hidden = table.cols;
  const out = new Float64Array(tokens.length * hidden);
  tokens.forEach((id, t) => {
    if (!Number.isInteger(id) || id < 0 || id >= table.rows) {
      throw new InputError(argument, `token id ${id} at index ${t} is outside the vocabulary [0, ${table.rows})`);
    }
    out.set(table.data.subarray(id * hidden, (id + 1) * hidden), t * hidden);
  });
  return out;
}
