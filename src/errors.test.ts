import { describe, expect, it } from 'vitest';
import { CheckpointError, ConfigError, excerpt, MAX_QUOTED_CHARS } from './errors.ts';

describe('excerpt: input echoed in error messages', () => {
  it('quotes short values whole and cuts long ones with an ellipsis', () => {
    expect(excerpt('w.weight')).toBe("'w.weight'");
    expect(excerpt(3.5)).toBe('3.5');
    expect(excerpt(null)).toBe('null');
    expect(excerpt([1, 'a'])).toBe("[1, 'a']");
    expect(excerpt({ a: 1 })).toBe('{a: 1}');
    const long = excerpt('x'.repeat(10_000));
    expect(long.length).toBeLessThanOrEqual(MAX_QUOTED_CHARS);
    expect(long.endsWith('…')).toBe(true);
  });

  it('shows control characters escaped', () => {
    expect(excerpt('a\u0000b\nc')).toBe("'a\\u0000b\\nc'");
  });

  it('renders a value nested 100,000 deep without overflowing the stack', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(excerpt(deep).length).toBeLessThanOrEqual(MAX_QUOTED_CHARS);
    let wide: Record<string, unknown> = {};
    for (let i = 0; i < 100_000; i++) wide[`k${i}`] = i;
    expect(excerpt(wide).length).toBeLessThanOrEqual(MAX_QUOTED_CHARS);
    wide = {};
  });

  it('error classes cut the tensor name and field they are given', () => {
    const name = 'n'.repeat(5000);
    expect(new CheckpointError('f.safetensors', 'bad', name).message.length).toBeLessThan(300);
    expect(new ConfigError(name, 'bad', 'config.json').message.length).toBeLessThan(300);
  });
});
