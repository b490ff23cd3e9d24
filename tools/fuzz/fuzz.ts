// Runs N seeded cases, mutation classes in turn, and tallies outcomes by class. Failures are untyped
// errors, silent corruption, hangs and memory blow-ups; the first few of each are kept for the report.
import { MUTATIONS } from './mutations.ts';
import { seededRng } from './rng.ts';
import { DEFAULT_LIMITS, OUTCOMES, runCase, type CaseLimits, type Outcome } from './run-case.ts';
import { buildTinyCheckpoint } from './tiny-checkpoint.ts';

export const FAILURES: readonly Outcome[] = ['untyped-error', 'silent-corruption', 'hang', 'memory'];

export interface FuzzReport {
  cases: number;
  seed: number;
  ms: number;
  /** class -> outcome -> count */
  counts: Map<string, Map<Outcome, number>>;
  failures: { klass: string; what: string; outcome: Outcome; detail: string }[];
}

export async function runFuzz(options: { cases: number; seed: number; limits?: CaseLimits }): Promise<FuzzReport> {
  const started = performance.now();
  const base = buildTinyCheckpoint(seededRng(options.seed));
  const rng = seededRng(options.seed ^ 0x5eed);
  const classes = Object.keys(MUTATIONS);
  const counts = new Map(classes.map((c) => [c, new Map(OUTCOMES.map((o) => [o, 0]))]));
  const failures: FuzzReport['failures'] = [];
  for (let i = 0; i < options.cases; i++) {
    // 'none' runs rarely: it only proves the base checkpoint loads.
    const klass = i % 50 === 0 ? 'none' : classes[1 + (i % (classes.length - 1))];
    const { files, what } = MUTATIONS[klass](rng, base);
    const { outcome, detail } = await runCase(base, files, options.limits ?? DEFAULT_LIMITS);
    counts.get(klass)!.set(outcome, counts.get(klass)!.get(outcome)! + 1);
    if (FAILURES.includes(outcome) && failures.length < 20) failures.push({ klass, what: what.slice(0, 200), outcome, detail });
  }
  return { cases: options.cases, seed: options.seed, ms: performance.now() - started, counts, failures };
}

export function failureCount(report: FuzzReport): number {
  let n = 0;
  for (const row of report.counts.values()) for (const o of FAILURES) n += row.get(o)!;
  return n;
}

/** The class x outcome table as text, with totals. */
export function formatReport(report: FuzzReport): string {
  const header = ['class', ...OUTCOMES, 'total'];
  const rows = [...report.counts].map(([klass, row]) => [klass, ...OUTCOMES.map((o) => String(row.get(o))), String(sum([...row.values()]))]);
  const totals = OUTCOMES.map((o) => sum([...report.counts.values()].map((row) => row.get(o)!)));
  rows.push(['all', ...totals.map(String), String(sum(totals))]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const out = [line(header), ...rows.map(line)];
  out.push(`${report.cases} cases, seed ${report.seed}, ${(report.ms / 1000).toFixed(1)} s, ${failureCount(report)} failures`);
  for (const f of report.failures) out.push(`  ${f.outcome} [${f.klass}] ${f.what}: ${f.detail}`);
  return out.join('\n');
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
