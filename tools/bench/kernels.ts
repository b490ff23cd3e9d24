// `npm run bench -- kernels [--kernel NAME] [--json]`: times every tools/bench/kernels/*.bench.ts case.
// The ceilings (`copy` bandwidth, `matmul-peak` GFLOP/s) are measured first in the same run, and each
// record reports its GB/s and GFLOP/s as fractions of them, so ratios travel between machines.
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import type { Gpu } from '../../src/gpu/device.ts';
import { PipelineCache } from '../../src/gpu/pipelines.ts';
import { Recorder } from '../../src/gpu/recorder.ts';
import type { LaunchProfile } from '../../src/gpu/launch-profile.ts';
import type { BenchRecord, KernelBench } from './kernel-bench.ts';
import { timeGpu } from './timing.ts';

const CEILINGS = ['copy', 'matmul-peak'];

async function loadBenches(): Promise<KernelBench[]> {
  const dir = fileURLToPath(new URL('./kernels/', import.meta.url));
  const files = readdirSync(dir).filter((f) => f.endsWith('.bench.ts')).sort();
  const all: KernelBench[] = [];
  for (const f of files) all.push(...((await import(pathToFileURL(join(dir, f)).href)) as { benches: KernelBench[] }).benches);
  // Ceilings first: every other record is a fraction of them.
  return all.sort((a, b) => Number(!CEILINGS.includes(a.kernel)) - Number(!CEILINGS.includes(b.kernel)));
}

/** Every kernel benchmark (those whose kernel name contains `filter`), launched as `profile` says. */
export async function runKernelBenches(gpu: Gpu, filter: string | undefined, log: (line: string) => void, profile: LaunchProfile): Promise<BenchRecord[]> {
  const rec = new Recorder(gpu.device, new PipelineCache(gpu.device), profile);
  const records: BenchRecord[] = [];
  let copyGbps = NaN;
  let peakGflops = NaN;
  const benches = (await loadBenches()).filter((b) => CEILINGS.includes(b.kernel) || !filter || b.kernel.includes(filter));
  log(`${'kernel'.padEnd(26)} ${'model'.padEnd(8)} ${'shape'.padEnd(34)} ${'median ms'.padStart(10)} ${'GB/s'.padStart(7)} ${'GFLOP/s'.padStart(8)} ${'%copy'.padStart(6)} ${'%peak'.padStart(6)}`);
  for (const bench of benches) {
    const run = bench.setup(gpu, rec);
    try {
      const t = await timeGpu(gpu.device, () => {
        run.record();
        rec.submit();
      }, { inner: bench.inner ?? 1 });
      await rec.pipelines.check();
      const gbps = bench.bytes / t.medianMs / 1e6;
      const gflops = bench.flops / t.medianMs / 1e6;
      if (bench.kernel === 'copy') copyGbps = Math.max(Number.isNaN(copyGbps) ? 0 : copyGbps, gbps);
      if (bench.kernel === 'matmul-peak') peakGflops = Math.max(Number.isNaN(peakGflops) ? 0 : peakGflops, gflops);
      const r: BenchRecord = {
        kernel: bench.kernel,
        model: bench.model,
        shape: bench.shape,
        median_ms: round(t.medianMs),
        gb_per_s: round(gbps),
        gflop_per_s: round(gflops),
        bandwidth_fraction: round(gbps / copyGbps),
        flops_fraction: round(gflops / peakGflops),
      };
      records.push(r);
      const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(0)}%` : '-');
      log(`${r.kernel.padEnd(26)} ${r.model.padEnd(8)} ${r.shape.padEnd(34)} ${r.median_ms.toFixed(3).padStart(10)} ${r.gb_per_s.toFixed(2).padStart(7)} ${r.gflop_per_s.toFixed(2).padStart(8)} ${pct(r.bandwidth_fraction).padStart(6)} ${pct(r.flops_fraction).padStart(6)}`);
    } finally {
      run.destroy();
    }
  }
  rec.destroy();
  return records;
}

function round(x: number): number {
  return Number.isFinite(x) ? Number(x.toPrecision(4)) : x;
}
