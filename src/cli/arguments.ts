// Parsing of CLI argument values shared by subcommands; bad values are InputErrors naming the option.
import { InputError } from '../errors.ts';

/** "1,2, 3" -> [1, 2, 3]; every entry a non-negative integer. */
export function parseTokenList(text: string, option = '--tokens'): number[] {
  const parts = text.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((s) => s === '')) throw new InputError(option, `expected comma-separated token ids, got '${text}'`);
  return parts.map((s, i) => {
    if (!/^\d+$/.test(s) || !Number.isSafeInteger(Number(s))) throw new InputError(option, `entry ${i} ('${s}') is not a token id (a non-negative integer)`);
    return Number(s);
  });
}
