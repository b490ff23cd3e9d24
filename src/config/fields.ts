// Typed reads of JSON config fields; every failure is a ConfigError naming the field and the file.
import { ConfigError } from '../errors.ts';

interface IntOptions<D> {
  min?: number;
  default?: D;
  /** Value to use when the field is JSON null (null itself is otherwise an error). */
  nullAs?: D;
}

export function readFields(obj: Record<string, unknown>, file: string, prefix = '') {
  const fail = (key: string, detail: string): never => {
    throw new ConfigError(prefix + key, detail, file);
  };
  const got = (v: unknown) => (typeof v === 'string' ? `'${v}'` : JSON.stringify(v));

  function present<D>(key: string, opts: { default?: D; nullAs?: D }): { v: unknown } | { d: D } {
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

  function number<D extends number | null = number>(key: string, opts: IntOptions<D> = {}): number | D {
    const p = present(key, opts);
    if ('d' in p) return p.d;
    const v = p.v;
    if (typeof v !== 'number' || !Number.isFinite(v)) return fail(key, `got ${got(v)}; expected a number`);
    if (opts.min !== undefined && v < opts.min) return fail(key, `got ${v}; must be >= ${opts.min}`);
    return v;
  }

  function int<D extends number | null = number>(key: string, opts: IntOptions<D> = {}): number | D {
    const v = number(key, opts);
    if (typeof v === 'number' && !Number.isInteger(v)) return fail(key, `got ${v}; expected an integer`);
    return v;
  }

  return {
    number: number as (key: string, opts?: IntOptions<number>) => number,
    int: int as {
      (key: string, opts?: IntOptions<number>): number;
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
    intArray(key: string, opts: { min?: number; length?: number }): number[] {
      const v = obj[key];
      const ok =
        Array.isArray(v) &&
        v.every((x) => Number.isInteger(x) && (opts.min === undefined || x >= opts.min)) &&
        (opts.length === undefined || v.length === opts.length);
      if (!ok) {
        const what = `${opts.length ?? ''} integers${opts.min !== undefined ? ` >= ${opts.min}` : ''}`;
        return fail(key, `got ${got(v)}; expected a list of ${what.trim()}`);
      }
      return v as number[];
    },
    /** eos_token_id may be one id or a list of ids. */
    intOrIntArray(key: string): number[] {
      const v = obj[key];
      if (v === undefined || v === null) return [];
      const list = Array.isArray(v) ? v : [v];
      if (list.some((x) => !Number.isInteger(x) || x < 0)) return fail(key, `got ${got(v)}; expected a token id or a list of ids`);
      return list as number[];
    },
  };
}
