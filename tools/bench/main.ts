// `npm run bench -- <suite> [options]`. Suites: kernels. Speed is claimed only from this output.
import { Command } from 'commander';
import { createNodeGpu } from '../../src/gpu/node-webgpu.ts';
import { runKernelBenches } from './kernels.ts';

const program = new Command('bench').description('deepseek-webgpu benchmarks');

program
  .command('kernels')
  .description('microbenchmarks of every kernel at the real DeepSeek-V3 / V2-Lite layer shapes')
  .option('--kernel <name>', 'only kernels whose name contains this (the copy / matmul-peak ceilings always run)')
  .option('--json', 'print the records as a JSON array instead of the table')
  .action(async (opts: { kernel?: string; json?: boolean }) => {
    const gpu = await createNodeGpu();
    const log = opts.json ? () => {} : (line: string) => console.log(line);
    log(`adapter: ${gpu.adapterInfo.description || gpu.adapterInfo.device} (${gpu.adapterInfo.backend ?? 'unknown backend'})`);
    const records = await runKernelBenches(gpu, opts.kernel, log);
    if (opts.json) console.log(JSON.stringify(records, null, 2));
    gpu.destroy();
  });

await program.parseAsync(process.argv);
