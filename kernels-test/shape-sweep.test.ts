// The shape sweep (issue 13): tiny random checkpoints of awkward widths (kernels-test/helpers/sweep-case.ts),
// each loaded once on the GPU and once in the CPU reference, then logits and MTP logits at every prompt
// position, the first greedy token at every prompt length across prefill chunks, and greedy generation
// plain and speculative (helpers/sweep-checks.ts). CI runs the seeds below; `npm run sweep -- --seeds N`
// runs more. A failing case's name carries its seed: `npm run sweep -- --from SEED --seeds 1 --verbose`.
import { describe, expect, it } from 'vitest';
import { getTestGpu } from './helpers/gpu.ts';
import { describeSweepCase, drawSweepCase, type SweepCase } from './helpers/sweep-case.ts';
import { runSweepCase } from './helpers/sweep-checks.ts';

const gpu = await getTestGpu();

const CI_SEEDS = Array.from({ length: 30 }, (_, i) => i + 1);
const cases = CI_SEEDS.map(drawSweepCase);

describe('the CI seeds cover the shape space', () => {
  // Guards the drawing: a change to sweep-case.ts must not quietly drop a kind of model from CI.
  const some = (what: string, test: (s: SweepCase) => boolean) => it(what, () => expect(cases.some(test)).toBe(true));
  const c = (s: SweepCase) => s.config;
  for (const method of ['noaux_tc', 'group_limited_greedy', 'greedy']) some(`${method} routing`, (s) => c(s).topk_method === method && !!c(s).n_routed_experts);
  some('a dense model', (s) => !c(s).n_routed_experts);
  some('FP8 128x128 blocks', (s) => s.weights.format === 'fp8' && s.weights.block[0] === 128);
  some('FP8 blocks other than 128', (s) => s.weights.format === 'fp8' && s.weights.block[0] !== 128);
  some('BF16 weights', (s) => s.weights.format === 'bf16');
  some('q_lora_rank null', (s) => c(s).q_lora_rank === null);
  some('q_lora_rank set', (s) => c(s).q_lora_rank !== null);
  some('an MTP module', (s) => c(s).num_nextn_predict_layers === 1);
  some('no MTP module', (s) => c(s).num_nextn_predict_layers === 0);
  some('YaRN', (s) => c(s).rope_scaling !== null);
  some('top-k 1', (s) => c(s).num_experts_per_tok === 1);
  some('top-k 6', (s) => c(s).num_experts_per_tok === 6);
  some('no shared expert', (s) => !!c(s).n_routed_experts && c(s).n_shared_experts === 0);
  some('two shared experts', (s) => c(s).n_shared_experts === 2);
  some('3+ attention splits (past 512 cached rows, many-core workgroup target)', (s) => s.run.prompt.length > 512 && s.run.attentionWorkgroups >= 64);
  some('kv_lora_rank 512', (s) => c(s).kv_lora_rank === 512);
  some('kv_lora_rank 4', (s) => c(s).kv_lora_rank === 4);
  // A third of the seeds under the GPU launch profile, the rest under the CPU's: no result may depend on the shape.
  some('the CPU launch profile', (s) => s.run.profile === 'cpu');
  some('the GPU launch profile with 3+ attention splits', (s) => s.run.profile === 'gpu' && s.run.prompt.length > 512);
  some('the GPU launch profile with MoE and MTP', (s) => s.run.profile === 'gpu' && !!c(s).n_routed_experts && c(s).num_nextn_predict_layers === 1);
});

describe.skipIf(!gpu)('shape sweep: the engine against the CPU reference', () => {
  it.each(cases.map((s) => [describeSweepCase(s), s] as const))('%s', async (_, s) => {
    const report = await runSweepCase(gpu!, s);
    const failures = report.checks.flatMap((c) => c.failures.map((f) => `${c.name}: ${f}`));
    expect(failures, report.description).toEqual([]);
  });
});
