// Typed reads of JSON config fields; every failure is a ConfigError naming the field and the file. Every
// number has a stated range: sizes in a config drive allocations (rope tables, the tensor-name table), so
// an unbounded one would exhaust memory before anything else could object.
import { ConfigError, excerpt } from '../errors.ts';

/** A closed or open interval; `over` / `under` are exclusive bounds, `min` / `max` inclusive. */
export interface Range {
  min?: number;
  over?: number;
  max?: number;
  under?: number;
}

interface ReadOptions<D> {
  default?: D;
  /** Value to use when the field is JSON null (null itself is otherwise an error). */
  nullAs?: D;
}

/** Integers need both ends: every count or size in a config is bounded. */
export type IntOptions<D> = ReadOptions<D> & { min: number; max: number };
export type NumberOptions<D> = ReadOptions<D> & Range & ({ min: number } | { over: number }) & ({ max: number } | { under: number });

export function rangeText(r: Range): string {
  const low = r.over !== undefined ? `(${r.over}` : `[${r.min ?? '-inf'}`;
  const high = r.under !== undefined ? `${r.under})` : `${r.max ?? 'inf'}]`;
  return `${low}, ${high}`;
}

export function inRange(v: number, r: Range): boolean {
  return (
    (r.min === undefined || v >= r.min) &&
    (r.over === undefined || v > r.over) &&
    (r.max === undefined || v <= r.max) &&
    (r.under === undefined || v < r.under)
  );
}

export function readFields(obj: Record<string, unknown>, file: string, prefix = '') {
  const fail = (key: string, detail: string): never => {
    throw new ConfigError(prefix + key, detail, file);
  };
  const got = (v: unknown) => excerpt(v);

  function present<D>(key: string, opts: ReadOptions<D>): { v: unknown } | { d: D } {
    const v = obj[key];
    if (v === undefined) {
      if ('default' in opts) return { d: opts.default as D };
      return fail(key, 'missing');
    }
    if (v === null) {
      if ('nullAs' in opts) return { d: opts.nullAs as D };
      return fail(key, 'got null');
    }
    return { v };
  }

  function number<D extends number | null = number>(key: string, opts: ReadOptions<D> & Range): number | D {
    const p = present(key, opts);
    if ('d' in p) return p.d;
    const v = p.v;
    if (typeof v !== 'number' || !Number.isFinite(v)) return fail(key, `got ${got(v)}; expected a number`);
    if (!inRange(v, opts)) return fail(key, `got ${got(v)}; must be in ${rangeText(opts)}`);
    return v;
  }

  function int<D extends number | null = number>(key: string, opts: IntOptions<D>): number | D {
    const p = present(key, opts);
    if ('d' in p) return p.d;
    const v = p.v;
    if (typeof v !== 'number' || !Number.isFinite(v)) return fail(key, `got ${got(v)}; expected a number`);
    if (!Number.isInteger(v)) return fail(key, `got ${got(v)}; expected an integer`);
    if (!inRange(v, opts)) return fail(key, `got ${got(v)}; must be in ${rangeText(opts)}`);
    return v;
  }

  /** Every element an integer in [min, max]; `length` exact, or at most `maxLength`. */
  function intList(key: string, v: unknown, opts: { min: number; max: number; length?: number; maxLength?: number; why?: string }): number[] {
    if (!Array.isArray(v)) return fail(key, `got ${got(v)}; expected a list of integers`);
    if (opts.length !== undefined && v.length !== opts.length) return fail(key, `got ${got(v)}; expected a list of ${opts.length} integers`);
    if (opts.maxLength !== undefined && v.length > opts.maxLength) return fail(key, `got a list of ${v.length}; at most ${opts.maxLength} entries`);
    const bad = v.find((x) => !Number.isInteger(x) || !inRange(x, opts));
    if (bad !== undefined) return fail(key, `got ${got(v)}; element ${got(bad)} is not an integer in ${rangeText(opts)}${opts.why ?? ''}`);
    return v as number[];
  }

  return {
    number: number as {
      (key: string, opts: NumberOptions<number>): number;
      <D extends number | null>(key: string, opts: NumberOptions<D>): number | D;
    },
    int: int as {
      (key: string, opts: IntOptions<number>): number;
      <D extends number | null>(key: string, opts: IntOptions<D>): number | D;
    },
    string(key: string, fallback?: string): string {
      const v = obj[key];
      if (v === undefined && fallback !== undefined) return fallback;
      if (typeof v !== 'string') return fail(key, v === undefined ? 'missing' : `got ${got(v)}; expected a string`);
      return v;
    },
    bool(key: string, fallback: boolean): boolean {
      const v = obj[key];
      if (v === undefined || v === null) return fallback;
      if (typeof v !== 'boolean') return fail(key, `got ${got(v)}; expected true or false`);
      return v;
    },
    oneOf<T extends string>(key: string, allowed: readonly T[], fallback: T | undefined): T {
      const v = obj[key] ?? fallback;
      if (v === undefined) return fail(key, `missing; supported: ${allowed.join(', ')}`);
      if (!allowed.includes(v as T)) return fail(key, `got ${got(v)}; supported: ${allowed.join(', ')}`);
      return v as T;
    },
    stringArray(key: string, fallback: string[]): string[] {
      const v = obj[key];
      if (v === undefined) return fallback;
      if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) return fail(key, `got ${got(v)}; expected a list of strings`);
      return v as string[];
    },
    intArray(key: string, opts: { min: number; max: number; length: number }): number[] {
      return intList(key, obj[key], opts);
    },
    /** eos_token_id may be one id or a list of ids, each in [0, vocab). */
    tokenIds(key: string, vocabSize: number): number[] {
      const v = obj[key];
      if (v === undefined || v === null) return [];
      const ids = { min: 0, max: vocabSize - 1, maxLength: MAX_TOKEN_ID_LIST, why: ` (token ids of a vocab_size ${vocabSize} vocabulary)` };
      if (!Array.isArray(v)) return intList(key, [v], ids);
      return intList(key, v, ids);
    },
  };
}

/** Configs list a handful of end-of-sequence ids. */
const MAX_TOKEN_ID_LIST = 1024;
