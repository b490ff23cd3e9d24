// `npm run bench -- e2e [--json]`: whole-model speed on this machine. For each model: prefill and decode
// tokens/s with plain and speculative (MTP) decoding, dispatches per decoded token, weight bytes read per
// token and the resulting GB/s against the copy-kernel ceiling measured in the same run; for the trained
// model the MTP acceptance on the README's five prompts, unique routed experts per verification step, and
// decode speed at forced acceptance rates (drafts replayed from a recorded greedy run, right or wrong).
import type { Engine } from '../../src/engine.ts';
import { loadModel } from '../../src/engine-node.ts';
import { generate, type GenerateResult } from '../../src/decode/generate.ts';
import { seededRandom } from '../../src/decode/rng.ts';
import type { Gpu } from '../../src/gpu/device.ts';
import { PipelineCache } from '../../src/gpu/pipelines.ts';
import { Recorder } from '../../src/gpu/recorder.ts';
import type { LaunchProfile } from '../../src/gpu/launch-profile.ts';
import { createNodeGpu } from '../../src/gpu/node-webgpu.ts';
import { benchProfile, type BenchProfileName } from './profile.ts';
import { countParameters } from '../../src/model/parameter-count.ts';
import { argmaxToken } from '../../src/reference/sample.ts';
import type { ModelConfig } from '../../src/config/model-config.ts';
import { benches as copyBenches } from './kernels/copy.bench.ts';
import { timeGpu } from './timing.ts';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { syntheticModelDir } from '../make-synthetic-model.ts';
import { routedExpertsPerVerify } from './expert-union.ts';
import { forceDrafts } from './force-drafts.ts';
import { offloadRows, type OffloadBudget, type OffloadRow } from './offload.ts';

/** The README's acceptance prompts (weights/tiny-v3-trained/README.md), each after the BOS token. */
export const ACCEPTANCE_PROMPTS = ['And it came to pass', 'Blessed are the', 'river: a', 'Then Jesus said unto them,', 'happiness: the state of'];

interface Row {
  model: string;
  mode: string;
  prefill_tokens_per_s: number;
  decode_tokens_per_s: number;
  dispatches_per_token: number;
  acceptance_rate: number | null;
  tokens_per_step: number | null;
  weight_mb_per_token: number;
  weight_gb_per_s: number;
  copy_fraction: number;
}

/** Weight bytes one decoded token reads: active parameters at their stored width (FP8 1 B, BF16 2 B). */
function weightBytesPerToken(c: ModelConfig): number {
  const p = countParameters(c);
  const bytes = c.quantization ? 1 : 2;
  // lm_head stays BF16 in FP8 releases; the embedding row read is negligible.
  const head = c.vocabSize * c.hiddenSize;
  return (p.active - head) * bytes + head * 2;
}

async function copyCeiling(gpu: Gpu, profile: LaunchProfile): Promise<number> {
  const rec = new Recorder(gpu.device, new PipelineCache(gpu.device), profile);
  const bench = copyBenches[0];
  const run = bench.setup(gpu, rec);
  const t = await timeGpu(gpu.device, () => {
    run.record();
    rec.submit();
  });
  run.destroy();
  rec.destroy();
  return bench.bytes / t.medianMs / 1e6;
}

async function timed(engine: Engine, prompt: number[], mode: 'none' | 'mtp', tokens: number, draftTokens = 1): Promise<{ r: GenerateResult; dispatches: number }> {
  engine.model.truncate(0);
  const before = engine.model.dispatches;
  const gen = generate(engine.model, prompt, { maxNewTokens: tokens, eosTokenIds: [], speculative: mode, draftTokens });
  for await (const _ of gen);
  return { r: await gen.result, dispatches: engine.model.dispatches - before };
}

export async function runE2e(log: (line: string) => void, syntheticLayers = 0, offloadBudgets: OffloadBudget[] = [], profileName?: BenchProfileName): Promise<{ rows: Row[]; acceptance: unknown; forced: unknown; experts: unknown; offload: OffloadRow[] }> {
  const rows: Row[] = [];
  let acceptance: unknown = null;
  let forced: unknown = null;
  let experts: unknown = null;
  const dirs = ['weights/tiny-v3-trained', 'kernels-test/fixtures/tiny-v3'];
  if (syntheticLayers > 0) dirs.push(syntheticModelDir(syntheticLayers, log));
  for (const dir of dirs) {
    const gpu = await createNodeGpu();
    const engine = await loadModel(dir, { gpu, profile: await benchProfile(gpu, profileName) });
    if (dir === dirs[0]) log(`launch profile: ${engine.model.profile.name}`);
    const c = engine.config;
    const copy = await copyCeiling(engine.gpu, engine.model.profile);
    const prompt = engine.tokenizer ? engine.encode('In the beginning God created the heaven and the earth. And the earth was without form, and void; and darkness was upon the face of the deep.') : Array.from({ length: 32 }, (_, i) => 3 + ((i * 37) % (c.vocabSize - 3)));
    const modes: ['none' | 'mtp', number][] = c.numNextnPredictLayers ? [['none', 1], ['mtp', 1], ['mtp', 2]] : [['none', 1]];
    const big = c.hiddenSize >= 1024; // real shapes decode at seconds per token here: fewer tokens
    await timed(engine, prompt.slice(0, big ? 4 : undefined), 'none', big ? 2 : 8); // warm caches and pipelines
    for (const [mode, k] of modes) {
      const { r, dispatches } = await timed(engine, big ? prompt.slice(0, 16) : prompt, mode, big ? 8 : 64, k);
      const perToken = weightBytesPerToken(c);
      const decodedPerS = r.stats.decodeTokensPerSecond;
      const stepsPerS = mode === 'none' ? decodedPerS : decodedPerS / r.stats.tokensPerStep;
      const row: Row = {
        model: dir.split('/').pop()!,
        mode: mode === 'none' ? 'plain' : `mtp k=${k}`,
        prefill_tokens_per_s: round(r.stats.prefillTokensPerSecond),
        decode_tokens_per_s: round(decodedPerS),
        dispatches_per_token: round(dispatches / (r.stats.generatedTokens + 1)),
        acceptance_rate: mode === 'none' ? null : round(r.stats.acceptanceRate),
        tokens_per_step: mode === 'none' ? null : round(r.stats.tokensPerStep),
        weight_mb_per_token: round(perToken / 1e6),
        // each step reads the weights once (a verify step reads the union of its rows' experts: a lower bound)
        weight_gb_per_s: round((perToken * stepsPerS) / 1e9),
        copy_fraction: round((perToken * stepsPerS) / 1e9 / copy),
      };
      rows.push(row);
      log(`${row.model.padEnd(16)} ${row.mode.padEnd(9)} prefill ${String(row.prefill_tokens_per_s).padStart(7)} tok/s  decode ${String(row.decode_tokens_per_s).padStart(6)} tok/s  ${String(row.dispatches_per_token).padStart(5)} dispatches/token  accept ${row.acceptance_rate ?? '-'}  tokens/step ${row.tokens_per_step ?? '-'}  ${row.weight_mb_per_token} MB/token ${row.weight_gb_per_s} GB/s (${(100 * row.copy_fraction).toFixed(1)}% of copy ${round(copy)} GB/s)`);
    }
    if (dir.endsWith('tiny-v3-trained')) {
      acceptance = await acceptanceOnPrompts(engine, log);
      forced = await forcedAcceptance(engine, prompt, log);
      experts = await routedExpertsPerVerify(dir, engine, ACCEPTANCE_PROMPTS, log);
    }
    await engine.dispose();
    gpu.destroy();
  }
  const offload: OffloadRow[] = [];
  for (const dir of offloadBudgets.length ? dirs : []) {
    const c = (await readConfig(dir)) as { hidden_size: number; vocab_size: number };
    const big = c.hidden_size >= 1024;
    const prompt = Array.from({ length: big ? 16 : 32 }, (_, i) => 3 + ((i * 37) % (c.vocab_size - 3)));
    offload.push(...(await offloadRows(dir, offloadBudgets, prompt, big ? 8 : 64, log)));
  }
  return { rows, acceptance, forced, experts, offload };
}

async function readConfig(dir: string): Promise<unknown> {
  return JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
}

/** Greedy 100 tokens after each README prompt with MTP: the loop's acceptance, and the every-position rate. */
async function acceptanceOnPrompts(engine: Engine, log: (line: string) => void) {
  const out = [];
  let drafted = 0;
  let accepted = 0;
  let matched = 0;
  let positions = 0;
  for (const text of ACCEPTANCE_PROMPTS) {
    const prompt = engine.encode(text);
    const { r } = await timed(engine, prompt, 'mtp', 100);
    drafted += r.stats.drafted;
    accepted += r.stats.accepted;
    // The reference's measure: at every generated position, the MTP's draft of the token two ahead
    // (from the hidden state and the next token) against the greedy output.
    const seq = [...prompt, ...r.tokens];
    engine.model.truncate(0);
    const { hidden } = await engine.model.appendOutputs(seq);
    const H = engine.config.hiddenSize;
    const V = engine.config.vocabSize;
    const mtp = await engine.model.appendMtpLogits(hidden.subarray(0, (seq.length - 1) * H), seq.slice(1));
    let m = 0;
    let n = 0;
    for (let i = prompt.length - 1; i + 2 < seq.length; i++) {
      n++;
      if (argmaxToken(mtp.subarray(i * V, (i + 1) * V)) === seq[i + 2]) m++;
    }
    matched += m;
    positions += n;
    out.push({ prompt: text, loop_acceptance: round(r.stats.acceptanceRate), every_position: `${m}/${n}` });
    log(`  "${text}": loop acceptance ${(100 * r.stats.acceptanceRate).toFixed(1)}% (${r.stats.accepted}/${r.stats.drafted}), every position ${m}/${n}`);
  }
  log(`  all five: loop ${(100 * accepted / drafted).toFixed(1)}% (${accepted}/${drafted}), every position ${(100 * matched / positions).toFixed(1)}% (${matched}/${positions}); reference 72.9% (361/495)`);
  return { prompts: out, loop_acceptance: round(accepted / drafted), every_position_acceptance: round(matched / positions) };
}

/** Decode speed when a chosen fraction of drafts is right: drafts replayed from a recorded greedy run. */
async function forcedAcceptance(engine: Engine, prompt: number[], log: (line: string) => void) {
  const recorded = (await timed(engine, prompt, 'none', 80)).r.tokens;
  const spec = engine.model.speculator()!;
  const forcer = forceDrafts(engine.model);
  const results = [];
  for (const rate of [0, 0.25, 0.5, 0.75, 0.9, 1]) {
    const random = seededRandom(17);
    engine.model.truncate(0);
    const before = performance.now();
    // Prefill emits recorded[0]; each step verifies the forced draft for the next position.
    let t = await spec.prefill(prompt, greedy());
    let emitted = 1;
    let steps = 0;
    const start = performance.now();
    while (emitted < 64) {
      const right = recorded[emitted];
      forcer.force([random() < rate ? right : (right + 1) % engine.config.vocabSize]);
      const step = await spec.step(t, [greedy()], [greedy(), greedy()], false);
      let accepted = 0;
      if (step.drafts[0] === step.predictions[0]) accepted = 1;
      const next = step.predictions[accepted];
      spec.commit(step, accepted, next);
      emitted += accepted + 1;
      t = next;
      steps++;
    }
    const tps = (emitted - 1) / ((performance.now() - start) / 1000);
    void before;
    results.push({ forced_acceptance: rate, decode_tokens_per_s: round(tps), tokens_per_step: round((emitted - 1) / steps) });
    log(`  forced acceptance ${rate.toFixed(2)}: ${tps.toFixed(1)} tok/s, ${((emitted - 1) / steps).toFixed(2)} tokens/step`);
  }
  forcer.dispose();
  return results;
}

function greedy() {
  return { temperature: 0, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1, penalizedTokens: [], random: 0 };
}


function round(x: number): number {
  return Number.isFinite(x) ? Number(x.toPrecision(4)) : x;
}
