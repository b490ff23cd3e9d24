// Byte sizes as people write them for --gpu-memory and the gpuMemory option: '512MiB', '4GB', '6G', '1.5 GiB',
// or a plain number of bytes. Binary units (KiB, MiB, GiB, TiB) and bare letters (K, M, G, T, as in `docker
// --memory 6g`) count in powers of 1024; KB, MB, GB, TB in powers of 1000, as disk and GPU vendors write them.
import { InputError } from './errors.ts';

const POWER: Record<string, number> = { '': 0, k: 1, m: 2, g: 3, t: 4 };

/** Bytes of `text` (rounded down to a whole byte); InputError naming `argument` when it is not a size. */
export function parseByteSize(text: string, argument: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)(b?)\s*$/i.exec(text);
  if (!m || (m[3] && !m[2])) throw new InputError(argument, `expected a size such as 4GB, 6G, 512MiB or a number of bytes, got '${text}'`);
  const [, number, prefix, binary, b] = m;
  const decimal = prefix !== '' && b !== '' && binary === '';
  const bytes = Math.floor(Number(number) * (decimal ? 1000 : 1024) ** POWER[prefix.toLowerCase()]);
  if (!Number.isSafeInteger(bytes) || bytes < 1) throw new InputError(argument, `expected a positive size, got '${text}'`);
  return bytes;
}
