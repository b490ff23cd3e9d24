// `npm run bench -- <suite> [options]`. Suites: kernels, e2e, batch, q4, serve, browser-load. Speed is claimed only from this output.
import { Command, Option } from 'commander';
import { createNodeGpu } from '../../src/gpu/node-webgpu.ts';
import { runBrowserLoadBench } from './browser-load.ts';
import { BENCH_PROFILES, benchProfile, type BenchProfileName } from './profile.ts';
import { runBatchBench } from './batch.ts';
import { runE2e } from './e2e.ts';
import { parseBudgets } from './offload.ts';
import { runQ4Bench } from './q4.ts';
import { runKernelBenches } from './kernels.ts';
import { runServeBench } from './serve.ts';

const program = new Command('bench').description('deepseek-webgpu benchmarks');

/** --profile: the launch profile (tools/bench/profile.ts); default the adapter's own. */
function profileOption(): Option {
  return new Option('--profile <name>', "launch profile: cpu, gpu (the GPU defaults), tuned (this adapter's tune record); default the adapter's").choices(BENCH_PROFILES);
}

program
  .command('kernels')
  .description('microbenchmarks of every kernel at the real DeepSeek-V3 / V2-Lite layer shapes')
  .option('--kernel <name>', 'only kernels whose name contains this (the copy / matmul-peak ceilings always run)')
  .option('--json', 'print the records as a JSON array instead of the table')
  .addOption(profileOption())
  .action(async (opts: { kernel?: string; json?: boolean; profile?: BenchProfileName }) => {
    const gpu = await createNodeGpu();
    const log = opts.json ? () => {} : (line: string) => console.log(line);
    const profile = await benchProfile(gpu, opts.profile);
    log(`adapter: ${gpu.adapterInfo.description || gpu.adapterInfo.device} (${gpu.adapterInfo.backend ?? 'unknown backend'}), launch profile ${profile.name}`);
    const records = await runKernelBenches(gpu, opts.kernel, log, profile);
    if (opts.json) console.log(JSON.stringify(records, null, 2));
    gpu.destroy();
  });

program
  .command('q4')
  .description('4-bit weights on the embedded model: GPU bytes, weight bytes per token and decode tok/s, stored FP8 vs --quantize q4')
  .option('--json', 'print the results as JSON')
  .action(async (opts: { json?: boolean }) => {
    const rows = await runQ4Bench(opts.json ? () => {} : (line: string) => console.log(line));
    if (opts.json) console.log(JSON.stringify(rows, null, 2));
  });

program
  .command('e2e')
  .description('whole-model decode speed: plain vs MTP speculative decoding, acceptance, dispatches and bytes per token')
  .option('--json', 'print the results as JSON')
  .option('--synthetic <layers>', 'also a random-weight model with DeepSeek-V2-Lite shapes and this many of its 27 layers (made in weights/ on first use)', '0')
  .option('--offload <shares>', 'also each model with routed experts offloaded (--gpu-memory) so that these shares of them fit, or under these budgets, e.g. 50%,25%,6GB', '')
  .addOption(profileOption())
  .action(async (opts: { json?: boolean; synthetic: string; offload: string; profile?: BenchProfileName }) => {
    const log = opts.json ? () => {} : (line: string) => console.log(line);
    const results = await runE2e(log, Number(opts.synthetic), parseBudgets(opts.offload), opts.profile);
    if (opts.json) console.log(JSON.stringify(results, null, 2));
  });

program
  .command('batch')
  .description('batched decoding: step latency, total and per-sequence tokens/s and routed experts read per step for B = 1..16')
  .option('--json', 'print the rows as JSON')
  .option('--synthetic <layers>', 'the DeepSeek-V2-Lite-shaped random-weight model with this many layers (0: only the embedded model)', '2')
  .action(async (opts: { json?: boolean; synthetic: string }) => {
    const gpu = await createNodeGpu();
    const log = opts.json ? () => {} : (line: string) => console.log(line);
    const rows = await runBatchBench(gpu, log, Number(opts.synthetic));
    if (opts.json) console.log(JSON.stringify(rows, null, 2));
    gpu.destroy();
  });

program
  .command('serve')
  .description('the OpenAI-compatible server under load: N concurrent streaming clients, latency percentiles, tokens/s')
  .option('--clients <n>', 'concurrent clients', '4')
  .option('--requests <m>', 'requests in all, shared by the clients', '16')
  .option('--max-tokens <k>', 'max_tokens of each request', '32')
  .option('--no-batch', 'the server generates one request at a time (as before continuous batching)')
  .option('--system-prompt', 'every request starts with the same long system prompt (what the prefix cache is for)')
  .option('--no-prefix-cache', "the server keeps no pages of finished requests' prompts")
  .option('--json', 'print the result as JSON')
  .action(async (opts: { clients: string; requests: string; maxTokens: string; batch: boolean; systemPrompt?: boolean; prefixCache: boolean; json?: boolean }) => {
    const count = (v: string, name: string) => {
      if (!/^[1-9]\d*$/.test(v)) throw new Error(`--${name}: expected an integer >= 1, got '${v}'`);
      return Number(v);
    };
    const options = { clients: count(opts.clients, 'clients'), requests: count(opts.requests, 'requests'), maxTokens: count(opts.maxTokens, 'max-tokens'), batch: opts.batch, systemPrompt: opts.systemPrompt ?? false, prefixCache: opts.prefixCache };
    const result = await runServeBench(opts.json ? () => {} : (line) => console.log(line), options);
    if (opts.json) console.log(JSON.stringify(result, null, 2));
  });

program
  .command('browser-load')
  .description('loading the embedded model in headless Chromium: seconds and requests, cold and reloaded from the Cache API')
  .option('--dist <dir>', "serve this build's dist/ instead of building this checkout's")
  .option('--reloads <n>', 'reloads after the cold load', '2')
  .option('--json', 'print the records as JSON')
  .action(async (opts: { dist?: string; reloads: string; json?: boolean }) => {
    const records = await runBrowserLoadBench(opts.json ? () => {} : (line) => console.log(line), { dist: opts.dist, reloads: Number(opts.reloads) });
    if (opts.json) console.log(JSON.stringify(records, null, 2));
  });

await program.parseAsync(process.argv);
