// The checkpoint fuzzer (tools/fuzz) at CI size: hostile config, index and shard files must end in a typed
// error or load intact, never in an untyped error, a silent shift, a hang or a memory blow-up.
// `npm run fuzz -- --cases N --seed S` runs more.
import { describe, expect, it } from 'vitest';
import { FAILURES, formatReport, runFuzz } from '../../tools/fuzz/fuzz.ts';

describe('checkpoint fuzzing', () => {
  it('2,000 seeded cases: 0 untyped errors, 0 silent corruptions, 0 hangs, 0 memory blow-ups', async () => {
    const report = await runFuzz({ cases: 2000, seed: 20_240_601 });
    console.log(formatReport(report));
    for (const [klass, row] of report.counts) {
      for (const outcome of FAILURES) expect(row.get(outcome), `${klass} ${outcome}`).toBe(0);
    }
    // Every class produced cases, and the unmutated checkpoint loaded intact.
    expect(report.counts.get('none')!.get('accepted-intact')).toBe(40);
    for (const row of report.counts.values()) expect([...row.values()].reduce((a, b) => a + b)).toBeGreaterThan(0);
  });
});
