// tune: on a loaded model, each kernel's candidate launch shapes (./candidates.ts) at the model's real shapes, a
// prefill chunk and a decode step. A candidate is kept only when the model's logits under it still match the
// reference at every position and the greedy token is the reference's; the fastest such one wins, knob by knob.
// Time is the kernel's own: its dispatches of one workload captured through the recorder's trace hook and
// replayed alone, many times per submission (wall clock; SwiftShader has no timestamp queries worth having).
import type { DispatchEvent } from '../gpu/recorder.ts';
import { Recorder } from '../gpu/recorder.ts';
import { PipelineCache } from '../gpu/pipelines.ts';
import { withKnobs, type LaunchProfile } from '../gpu/launch-profile.ts';
import type { DeepseekModel } from '../model/deepseek-model.ts';
import { argmaxToken, GREEDY } from '../sampling/rules.ts';
import { ALSO_TIMED, type KnobCandidates } from './candidates.ts';
import type { TuneRow } from './tune-record.ts';

/** The logits the model must reproduce under every candidate: [prompt.length + 1, vocab] for prompt then `next`. */
export interface TuneReference {
  logits: Float32Array;
  /** What computed them ('the CPU reference', 'the default profile'), for the report. */
  source: string;
}

export interface TuneOptions {
  candidates: KnobCandidates;
  /** Replays of a kernel's dispatches per timed submission (default 8). */
  reps?: number;
  /** Timed submissions per candidate, of which the median counts (default 5). */
  samples?: number;
  /** Per-row relative L2 of the logits against the reference (default 1e-4: f32 noise is ~1e-6). */
  tolerance?: number;
  /** A candidate replaces the best so far only when at least this much faster (default 0.05: timing noise). */
  minGain?: number;
  log?: (line: string) => void;
}

export interface TuneResult {
  /** The tuned profile: the model's profile with `changes`. */
  profile: LaunchProfile;
  changes: Record<string, Record<string, number>>;
  table: TuneRow[];
  /** Candidates refused for wrong results, one line each (should stay empty: correctness may not depend on shape). */
  rejected: string[];
}

/** One run of the workload under the model's current profile. */
interface Run {
  events: DispatchEvent[];
  /** Why the results are wrong, or null. */
  wrong: string | null;
}

/**
 * Tunes `model`'s launch profile on `prompt` (at most one prefill chunk) then `next`. Leaves the model on the
 * tuned profile, its cache empty.
 */
export async function tuneModel(model: DeepseekModel, prompt: readonly number[], next: number, reference: TuneReference, options: TuneOptions): Promise<TuneResult> {
  const base = model.profile;
  const log = options.log ?? (() => {});
  const timer = new KernelTimer(model, options.reps ?? 8, options.samples ?? 5);
  const tolerance = options.tolerance ?? 1e-4;
  const minGain = options.minGain ?? 0.05;
  const rejected: string[] = [];
  const table: TuneRow[] = [];
  let current = base;
  const first = await runWorkload(model, prompt, next, reference, tolerance);
  if (first.wrong) throw new Error(`tune: the model's default profile '${base.name}' already disagrees with ${reference.source}: ${first.wrong}`);
  try {
    for (const [kernel, knobs] of Object.entries(options.candidates)) {
      const timed = new Set([kernel, ...(ALSO_TIMED[kernel] ?? [])]);
      if (!first.events.some((e) => e.label === kernel)) continue; // not part of this model's steps
      model.useProfile(current);
      const defaultMs = await timer.time((await runWorkload(model, prompt, next, reference, tolerance)).events, timed);
      let best = { ms: defaultMs, knobs: { ...current.knobs[kernel] } };
      for (const [name, values] of Object.entries(knobs)) {
        for (const value of values) {
          if (value === best.knobs[name]) continue;
          const tryKnobs = { ...best.knobs, [name]: value };
          const candidate = withKnobs(current, { [kernel]: tryKnobs });
          model.useProfile(candidate);
          const run = await runWorkload(model, prompt, next, reference, tolerance);
          if (run.wrong) {
            rejected.push(`${kernel} ${describeKnobs(tryKnobs)}: ${run.wrong}`);
            continue;
          }
          const ms = await timer.time(run.events, timed);
          log(`  ${kernel} ${describeKnobs(tryKnobs)}: ${ms.toFixed(3)} ms`);
          if (ms < best.ms * (1 - minGain)) best = { ms, knobs: tryKnobs };
        }
      }
      current = withKnobs(current, { [kernel]: best.knobs });
      table.push({ kernel, default: describeKnobs(base.knobs[kernel]), defaultMs, tuned: describeKnobs(best.knobs), tunedMs: best.ms });
    }
    const profile = withKnobs(current, {}, `${base.name} (tuned)`);
    model.useProfile(profile);
    const last = await runWorkload(model, prompt, next, reference, tolerance);
    if (last.wrong) throw new Error(`tune: the tuned profile disagrees with ${reference.source}: ${last.wrong}`);
    return { profile, changes: knobChanges(base, profile), table, rejected };
  } catch (e) {
    model.useProfile(base);
    throw e;
  } finally {
    model.truncate(0);
    timer.destroy();
  }
}

/** 'WG_SIZE=64 ROWS=8'. */
export function describeKnobs(knobs: Readonly<Record<string, number>>): string {
  return Object.entries(knobs)
    .map(([n, v]) => `${n}=${v}`)
    .join(' ');
}

/** The knobs of `tuned` that differ from `base`, by kernel. */
function knobChanges(base: LaunchProfile, tuned: LaunchProfile): Record<string, Record<string, number>> {
  const changes: Record<string, Record<string, number>> = {};
  for (const [kernel, knobs] of Object.entries(tuned.knobs)) {
    for (const [name, v] of Object.entries(knobs)) if (base.knobs[kernel]?.[name] !== v) (changes[kernel] ??= {})[name] = v;
  }
  return changes;
}

/**
 * Prefill of `prompt` and one greedy decode step of `next`, traced; then the logits of every position, checked
 * against the reference, and the greedy token against its argmax.
 */
async function runWorkload(model: DeepseekModel, prompt: readonly number[], next: number, reference: TuneReference, tolerance: number): Promise<Run> {
  const events: DispatchEvent[] = [];
  model.truncate(0);
  model.traceDispatches((e) => events.push({ ...e, params: e.params.slice() }));
  let token: number | null;
  try {
    await model.append(prompt, null);
    token = await model.append([next], GREEDY);
  } finally {
    model.traceDispatches(null);
  }
  model.truncate(0);
  const logits = await model.appendLogits([...prompt, next]);
  model.truncate(0);
  const V = model.config.vocabSize;
  const rows = prompt.length + 1;
  for (let r = 0; r < rows; r++) {
    const got = logits.subarray(r * V, (r + 1) * V);
    const want = reference.logits.subarray(r * V, (r + 1) * V);
    const err = relL2(got, want);
    if (!(err <= tolerance)) return { events, wrong: `logits row ${r}: relative L2 ${err.toExponential(2)} against ${reference.source} (tolerance ${tolerance})` };
  }
  const last = reference.logits.subarray((rows - 1) * V, rows * V);
  const want = argmaxToken(last);
  if (token !== want && !(token !== null && last[want] - last[token] <= 1e-5 * Math.max(...last.map(Math.abs)))) {
    return { events, wrong: `greedy token ${token}, ${reference.source} says ${want}` };
  }
  return { events, wrong: null };
}

function relL2(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i] - b[i]) ** 2;
    n += b[i] ** 2;
  }
  return Math.sqrt(d / Math.max(n, 1e-30));
}

/** Replays captured dispatches of chosen kernels alone: their time per workload, in ms. */
class KernelTimer {
  private readonly rec: Recorder;
  private static readonly PER_SUBMIT = 2048; // below the recorder's 4096 dispatches per step

  constructor(
    private readonly model: DeepseekModel,
    private readonly reps: number,
    private readonly samples: number,
  ) {
    this.rec = new Recorder(model.gpu.device, new PipelineCache(model.gpu.device), model.profile);
  }

  async time(events: DispatchEvent[], kernels: Set<string>): Promise<number> {
    const mine = events.filter((e) => kernels.has(e.label));
    if (!mine.length) return 0;
    const device = this.model.gpu.device;
    const times: number[] = [];
    for (let s = 0; s <= this.samples; s++) {
      const t0 = performance.now();
      let pending = 0;
      for (let r = 0; r < this.reps; r++) {
        for (const e of mine) {
          this.rec.dispatch(e.pipeline, e.buffers, e.params, e.grid, e.label);
          if (++pending === KernelTimer.PER_SUBMIT) {
            this.rec.submit('tune');
            pending = 0;
          }
        }
      }
      this.rec.submit('tune');
      await device.queue.onSubmittedWorkDone();
      if (s > 0) times.push((performance.now() - t0) / this.reps); // the first is a warm-up
    }
    await this.rec.check();
    return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
  }

  destroy(): void {
    this.rec.destroy();
  }
}
