// Comparisons for kernel and model tests: each returns a number to assert against a stated bound, and
// describeDiff() prints the first differing elements with both values (llm.c's check_tensor habit).

export function relL2(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} vs expected ${expected.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = actual[i] - expected[i];
    num += d * d;
    den += expected[i] * expected[i];
  }
  if (Number.isNaN(num)) return Infinity; // an unwritten (NaN-poisoned) element must fail
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

export function maxAbs(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

export function argmax(values: ArrayLike<number>, start = 0, length = values.length - start): number {
  let best = 0;
  for (let i = 1; i < length; i++) if (values[start + i] > values[start + best]) best = i;
  return best;
}

/** The first `count` elements whose difference exceeds `tol` relative to the largest |expected|. */
export function describeDiff(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-6, count = 5): string {
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  const lines: string[] = [];
  for (let i = 0; i < expected.length && lines.length < count; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= tol * scale)) lines.push(`  [${i}] got ${actual[i]}, expected ${expected[i]}`);
  }
  return lines.length ? `first differences:\n${lines.join('\n')}` : 'no element differs beyond tolerance';
}
