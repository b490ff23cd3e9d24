// `npm run sweep -- --seeds N [--from S] [--verbose]`: the shape sweep (kernels-test/shape-sweep.test.ts) over
// more seeds than CI runs. Prints one row per case and exits non-zero when any check failed.
import { Command } from 'commander';
import { createNodeGpu } from '../src/gpu/node-webgpu.ts';
import { runSweepCase } from '../kernels-test/helpers/sweep-checks.ts';
import { drawSweepCase } from '../kernels-test/helpers/sweep-case.ts';

const program = new Command('sweep')
  .description('random tiny checkpoints of awkward shapes: the engine against the CPU reference')
  .option('--seeds <n>', 'how many seeds', '30')
  .option('--from <s>', 'first seed', '1')
  .option('--verbose', 'print every failure message, not only the first of each check')
  .action(async (opts: { seeds: string; from: string; verbose?: boolean }) => {
    const count = Number(opts.seeds);
    const from = Number(opts.from);
    if (!Number.isInteger(count) || count < 1 || !Number.isInteger(from) || from < 0) throw new Error(`--seeds and --from must be integers, got ${opts.seeds}, ${opts.from}`);
    const gpu = await createNodeGpu({ label: 'sweep' });
    const t0 = performance.now();
    let failed = 0;
    let ties = 0;
    console.log('result  seconds  max relL2 (logits / mtp)  case');
    for (let seed = from; seed < from + count; seed++) {
      const r = await runSweepCase(gpu, drawSweepCase(seed));
      const bad = r.checks.filter((c) => c.failures.length);
      ties += r.checks.reduce((n, c) => n + c.ties, 0);
      if (bad.length) failed++;
      const err = `${fmt(r.logitsRelL2)} / ${fmt(r.mtpRelL2)}`;
      console.log(`${bad.length ? 'FAIL' : 'ok  '}  ${(r.ms / 1000).toFixed(1).padStart(7)}  ${err.padEnd(24)}  ${r.description}`);
      if (opts.verbose) console.log(`        ${r.checks.map((c) => `${c.name} ${(c.ms / 1000).toFixed(1)} s`).join(', ')}`);
      for (const c of bad) for (const f of opts.verbose ? c.failures : c.failures.slice(0, 1)) console.log(`        ${c.name}: ${f}`);
    }
    const s = (performance.now() - t0) / 1000;
    console.log(`${count - failed} of ${count} cases passed (${ties} argmax ties), ${s.toFixed(0)} s`);
    gpu.destroy();
    process.exitCode = failed ? 1 : 0;
  });

function fmt(x: number): string {
  return Number.isNaN(x) ? '-' : x.toExponential(1);
}

await program.parseAsync();
