// The shape sweep's checks for one case: one checkpoint written, one engine load and one reference load,
// then every comparison against the CPU reference. Shared by kernels-test/shape-sweep.test.ts (fixed seeds)
// and tools/sweep.ts (`npm run sweep -- --seeds N`). Failures are collected, not thrown, so one run reports
// every check of a case.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openModelFolder, type ModelFolder } from '../../src/checkpoint/model-folder.ts';
import { nodeFolder } from '../../src/checkpoint/sources/node-file.ts';
import type { SampleRequest } from '../../src/decode/causal-lm.ts';
import { generate } from '../../src/decode/generate.ts';
import type { Gpu } from '../../src/gpu/device.ts';
import { DeepseekModel } from '../../src/model/deepseek-model.ts';
import { ReferenceModel } from '../../src/reference/model.ts';
import { argmax, relL2 } from './compare.ts';
import { testProfile } from './profile.ts';
import { writeRandomCheckpoint } from './random-checkpoint.ts';
import { describeSweepCase, type SweepCase } from './sweep-case.ts';

/** Per-row relative L2 bound of the engine against the reference (f32 noise is ~1e-6). */
export const ROW_TOL = 1e-4;
/** Two logits closer than this (relative to the row's largest |logit|) are a tie: either argmax is right. */
export const TIE_TOL = 1e-5;

export interface CheckResult {
  name: string;
  /** What went wrong, one line each (the first few). */
  failures: string[];
  /** Argmax disagreements explained by a tie in the reference. */
  ties: number;
  ms: number;
}

export interface SweepReport {
  description: string;
  checks: CheckResult[];
  /** Worst per-row relL2 of the logits and of the MTP logits (NaN when not run). */
  logitsRelL2: number;
  mtpRelL2: number;
  ms: number;
}

const GREEDY: SampleRequest = { temperature: 0, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1, penalizedTokens: [], random: 0 };

export async function runSweepCase(gpu: Gpu, s: SweepCase): Promise<SweepReport> {
  const t0 = performance.now();
  const report: SweepReport = { description: describeSweepCase(s), checks: [], logitsRelL2: NaN, mtpRelL2: NaN, ms: 0 };
  const dir = await mkdtemp(join(tmpdir(), `sweep-${s.seed}-`));
  let folder: ModelFolder | undefined;
  let model: DeepseekModel | undefined;
  try {
    await writeRandomCheckpoint(dir, s.config, s.weights, s.seed);
    folder = await openModelFolder(nodeFolder(dir));
    const ref = await ReferenceModel.load(folder.checkpoint, folder.config);
    const f = folder;
    // A load that only reports WebGPU errors still gives a model: its other checks say what else is wrong.
    await check(report, gpu, 'load', async () => {
      model = await DeepseekModel.load(gpu, f, { prefillChunk: s.run.prefillChunk, contextLength: s.run.contextLength, attentionWorkgroups: s.run.attentionWorkgroups, profile: testProfile(gpu.device, s.run.profile) });
    });
    if (!model) return report;
    const m = model;
    await check(report, gpu, 'logits', (c) => checkLogits(c, report, m, ref, s));
    await check(report, gpu, 'first tokens', (c) => checkFirstTokens(c, m, ref, s));
    await check(report, gpu, 'generation', (c) => checkGeneration(c, m, ref, s));
  } finally {
    model?.dispose();
    await folder?.checkpoint.close();
    await rm(dir, { recursive: true, force: true });
    report.ms = performance.now() - t0;
  }
  return report;
}

/** Runs one check; a throw or a WebGPU error during it is one more failure. True when it passed. */
async function check(report: SweepReport, gpu: Gpu, name: string, body: (c: CheckResult) => Promise<void>): Promise<boolean> {
  const c: CheckResult = { name, failures: [], ties: 0, ms: 0 };
  const t0 = performance.now();
  report.checks.push(c);
  const errorsBefore = gpu.errors.length;
  try {
    await body(c);
  } catch (e) {
    c.failures.push(`threw ${(e as Error)?.stack ?? e}`);
  }
  // gpu.errors keeps the last few only; new ones are at its end.
  for (const e of gpu.errors.slice(errorsBefore)) c.failures.push(`WebGPU ${e.kind} error: ${e.message.split('\n')[0]}`);
  c.ms = performance.now() - t0;
  return c.failures.length === 0;
}

/** Adds a failure unless `got` is the reference's argmax of `row`, or ties with it. */
function expectArgmax(c: CheckResult, what: string, got: number, row: Float32Array): void {
  const want = argmax(row);
  if (got === want) return;
  let scale = 0;
  for (const v of row) scale = Math.max(scale, Math.abs(v));
  if (got >= 0 && got < row.length && row[want] - row[got] <= TIE_TOL * scale) c.ties++;
  else fail(c, `${what}: token ${got}, reference argmax ${want} (reference logits ${row[got]?.toFixed(6)} vs ${row[want].toFixed(6)})`);
}

function fail(c: CheckResult, message: string): void {
  if (c.failures.length < 6) c.failures.push(message);
  else if (c.failures.length === 6) c.failures.push('...');
}

/** Logits (and MTP logits) at every prompt position, within ROW_TOL per row and with the same argmax. */
async function checkLogits(c: CheckResult, report: SweepReport, model: DeepseekModel, ref: ReferenceModel, s: SweepCase): Promise<void> {
  const prompt = s.run.prompt;
  const T = prompt.length;
  const V = model.config.vocabSize;
  const H = model.config.hiddenSize;
  model.truncate(0);
  const gpu = await model.appendOutputs(prompt);
  const state = ref.newState();
  const want = ref.forward(state, prompt);
  report.logitsRelL2 = compareRows(c, 'logits', gpu.logits, want.logits, T, V);
  if (model.config.numNextnPredictLayers === 0 || T < 2) return;
  model.truncate(0);
  const mtp = await model.appendMtpLogits(gpu.hidden.subarray(0, (T - 1) * H), prompt.slice(1));
  const wantMtp = ref.mtp(state, want.hidden.subarray(0, (T - 1) * H), prompt.slice(1));
  report.mtpRelL2 = compareRows(c, 'mtp logits', mtp, wantMtp, T - 1, V);
}

/** The worst per-row relL2; failures for rows beyond ROW_TOL or with another argmax. */
function compareRows(c: CheckResult, what: string, got: Float32Array, want: Float32Array, rows: number, width: number): number {
  let worst = 0;
  for (let r = 0; r < rows; r++) {
    const g = got.subarray(r * width, (r + 1) * width);
    const w = want.subarray(r * width, (r + 1) * width);
    const err = relL2(g, w);
    worst = Math.max(worst, err);
    if (!(err <= ROW_TOL)) fail(c, `${what} row ${r}: relL2 ${err.toExponential(2)}`);
    else expectArgmax(c, `${what} row ${r}`, argmax(g), w);
  }
  return worst;
}

/** The token model.append chooses after prompt[0..n), for n = 1..firstTokens (crossing prefill chunks). */
async function checkFirstTokens(c: CheckResult, model: DeepseekModel, ref: ReferenceModel, s: SweepCase): Promise<void> {
  const n = s.run.firstTokens;
  const prompt = s.run.prompt.slice(0, n);
  const want = ref.forward(ref.newState(), prompt).logits;
  const V = model.config.vocabSize;
  for (let k = 1; k <= n; k++) {
    model.truncate(0);
    const token = await model.append(prompt.slice(0, k), GREEDY);
    expectArgmax(c, `prompt of ${k}`, token ?? -1, want.subarray((k - 1) * V, k * V));
  }
}

/**
 * Greedy generation: plain decoding must follow the reference's argmax at every step (teacher-forced along
 * its own tokens), and MTP speculation with 1 and 3 drafts must give plain decoding's tokens.
 */
async function checkGeneration(c: CheckResult, model: DeepseekModel, ref: ReferenceModel, s: SweepCase): Promise<void> {
  const prompt = s.run.prompt.slice(0, s.run.genPrompt);
  const run = async (speculative: 'none' | 'mtp', draftTokens = 1) => {
    model.truncate(0);
    const gen = generate(model, prompt, { maxNewTokens: s.run.genTokens, eosTokenIds: [], speculative, draftTokens });
    for await (const _ of gen);
    return (await gen.result).tokens;
  };
  const plain = await run('none');
  if (plain.length !== s.run.genTokens) fail(c, `plain decoding gave ${plain.length} of ${s.run.genTokens} tokens`);
  const V = model.config.vocabSize;
  const P = prompt.length;
  const logits = ref.forward(ref.newState(), [...prompt, ...plain.slice(0, -1)]).logits;
  const row = (i: number) => logits.subarray((P - 1 + i) * V, (P + i) * V);
  plain.forEach((t, i) => expectArgmax(c, `plain decoding token ${i}`, t, row(i)));
  if (model.config.numNextnPredictLayers === 0) return;
  for (const drafts of [1, 3]) {
    const spec = await run('mtp', drafts);
    const i = spec.findIndex((t, k) => t !== plain[k]);
    if (i < 0 && spec.length === plain.length) continue;
    if (i < 0) fail(c, `mtp x${drafts}: ${spec.length} tokens, plain decoding ${plain.length}`);
    else expectArgmax(c, `mtp x${drafts} token ${i} (plain ${plain[i]})`, spec[i], row(i));
  }
}
