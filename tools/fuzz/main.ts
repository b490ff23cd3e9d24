// npm run fuzz -- --cases N --seed S: runs the checkpoint fuzzer and prints the class x outcome table;
// exits 1 when any case ended in an untyped error, silent corruption, a hang or a memory blow-up.
import { failureCount, formatReport, runFuzz } from './fuzz.ts';

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isSafeInteger(value) || value < 0) {
    console.error(`--${name} needs a non-negative integer, got ${process.argv[at + 1]}`);
    process.exit(2);
  }
  return value;
}

const report = await runFuzz({ cases: option('cases', 2000), seed: option('seed', 1) });
console.log(formatReport(report));
process.exit(failureCount(report) > 0 ? 1 : 0);
