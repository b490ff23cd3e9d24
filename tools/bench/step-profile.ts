// Where the time of a decode step goes: `npx tsx tools/bench/step-profile.ts [--model DIR] [--rows 1,2]
// [--context N] [--samples N] [--reps N] [--steps | --batch 1,2,4,8 [--sampled] [--knobs JSON]]`.
//
// Default: the forward pass alone (what a decode step records before lm_head and the sampler) for each row
// count, at a context of N tokens. --steps: instead the two real decode steps, DeepseekModel.append of one
// token (plain) and one MTP speculative step with one draft (MTP layer + head + sampler, 2-row verify,
// lm_head on 2 rows, 2 samplers, one read-back), through the model's own API. --batch: the batched decode
// step (DeepseekModel.decodeStep, what DecodeBatch runs) of B sequences of N + 0..B-1 cached tokens for each
// B, greedy, or with --sampled each row drawn at temperature 0.8 (the serve benchmark's requests); --knobs
// '{"kernel":{"KNOB":v}}' adds the same steps on a copy of the model loaded with those launch knobs (A/B).
// For each, it prints
//   per kernel: every dispatch of one step replayed alone, `reps` times in one submission, summed by
//     kernel (shader name plus the weight it reads: q_a, o, experts.gate, ...). A replayed dispatch costs its
//     work plus the ~20 µs any dispatch costs on SwiftShader; the sum against the step time shows the rest;
//   step: the whole step, `samples` times interleaved over the variants (the machine is shared: medians of
//     alternations), wall ms and this process's CPU ms (SwiftShader's threads included) per step.
import { parseArgs } from 'node:util';
import { DEFAULT_MODEL_DIR } from '../../src/engine-node.ts';
import { openModelFolder } from '../../src/checkpoint/model-folder.ts';
import { nodeFolder } from '../../src/checkpoint/sources/node-file.ts';
import { createNodeGpu } from '../../src/gpu/node-webgpu.ts';
import { uploadStorage } from '../../src/gpu/buffers.ts';
import { PipelineCache } from '../../src/gpu/pipelines.ts';
import { Recorder, type Bindable, type DispatchEvent } from '../../src/gpu/recorder.ts';
import { withKnobs } from '../../src/gpu/launch-profile.ts';
import { Activations } from '../../src/model/activations.ts';
import { DeepseekModel } from '../../src/model/deepseek-model.ts';
import type { CacheSequence } from '../../src/model/kv-cache.ts';
import { placeRows, recordForward, type ForwardContext } from '../../src/model/forward.ts';
import { RowMaps } from '../../src/model/row-maps.ts';
import type { GpuLayer, GpuWeights } from '../../src/model/weights.ts';
import { GREEDY } from '../../src/sampling/rules.ts';

/** One thing to time: `run` does a whole step; `capture` returns the dispatches of one step. */
interface Variant {
  name: string;
  run: () => Promise<void>;
  capture: () => Promise<DispatchEvent[]>;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** GPUBuffer -> the weight it holds ('experts.gate', 'o', ...; the layer index dropped, MTP ones prefixed). */
function weightNames(w: GpuWeights): Map<GPUBuffer, string> {
  const names = new Map<GPUBuffer, string>();
  const add = (b: Bindable | undefined, name: string) => {
    if (b) names.set('buffer' in b ? b.buffer : b, name);
  };
  const layer = (l: GpuLayer, prefix: string) => {
    const a = l.attention;
    add(a.qA?.w, `${prefix}q_a`);
    add(a.qB?.w, `${prefix}q_b`);
    add(a.q?.w, `${prefix}q`);
    add(a.kvA.w, `${prefix}kv_a`);
    add(a.kvB.w, `${prefix}kv_b`);
    add(a.o.w, `${prefix}o`);
    if (l.dense) for (const k of ['gate', 'up', 'down'] as const) add(l.dense[k].w, `${prefix}dense.${k}`);
    if (l.moe) {
      add(l.moe.router.w, `${prefix}router`);
      for (const k of ['gate', 'up', 'down'] as const) {
        for (const p of l.moe.experts[k]) add(p.weight, `${prefix}experts.${k}`);
        for (const p of l.moe.shared?.[k] ?? []) add(p.weight, `${prefix}shared.${k}`);
      }
    }
  };
  w.layers.forEach((l) => layer(l, ''));
  for (const m of w.mtp) {
    layer(m.layer, 'mtp.');
    add(m.ehE.w, 'mtp.eh_e');
    add(m.ehH.w, 'mtp.eh_h');
    for (const p of m.head) add(p.weight.w, 'mtp.head');
  }
  for (const p of w.lmHead) add(p.weight.w, 'lm_head');
  return names;
}

/**
 * Runs `step` with a trace hook installed by `trace` (the recorder's own, or the model's through
 * traceDispatches), keeping a replayable copy of every dispatch; the step still records and submits them.
 */
async function capture(trace: (listener: ((e: DispatchEvent) => void) | null) => void, step: () => Promise<void>): Promise<DispatchEvent[]> {
  const captured: DispatchEvent[] = [];
  trace((e) => captured.push({ ...e, params: e.params.slice() }));
  try {
    await step();
  } finally {
    trace(null);
  }
  return captured;
}

/**
 * One batched decode step of B sequences of prompt.length + 0..B-1 cached tokens, each truncated back after it,
 * so every step is alike: greedy, or each row drawn at temperature 0.8 with its own random number.
 */
async function batchStep(model: DeepseekModel, B: number, prompt: number[], sampled: boolean): Promise<() => Promise<void>> {
  const seqs: CacheSequence[] = [];
  for (let i = 0; i < B; i++) {
    const seq = model.openSequence();
    await model.appendSequence(seq, prompt.concat(prompt.slice(0, i)), null);
    seqs.push(seq);
  }
  const V = model.config.vocabSize;
  const rows = seqs.map((seq, i) => ({ seq, token: (i * 13 + 7) % V, sample: sampled ? { ...GREEDY, temperature: 0.8, random: (i * 0.37 + 0.11) % 1 } : GREEDY }));
  return async () => {
    await model.decodeStep(rows);
    for (const seq of seqs) seq.truncate(seq.length - 1);
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: DEFAULT_MODEL_DIR },
      rows: { type: 'string', default: '1,2' },
      context: { type: 'string', default: '32' },
      samples: { type: 'string', default: '21' },
      reps: { type: 'string', default: '20' },
      steps: { type: 'boolean', default: false },
      batch: { type: 'string' },
      sampled: { type: 'boolean', default: false },
      knobs: { type: 'string' },
    },
  });
  const context = Number(values.context);
  const samples = Number(values.samples);
  const reps = Number(values.reps);

  const gpu = await createNodeGpu();
  const device = gpu.device;
  const batchSizes = values.batch?.split(',').map(Number) ?? [];
  const sequences = batchSizes.reduce((a, b) => a + b, 0);
  const batchLoad = { contextLength: context + 64, ...(sequences ? { maxSequences: sequences + 1, cacheTokens: (sequences + 1) * (context + 64) } : {}) };
  const model = await DeepseekModel.load(gpu, await openModelFolder(nodeFolder(values.model)), batchLoad);
  const c = model.config;
  const prompt = Array.from({ length: context }, (_, i) => (i * 37 + 5) % c.vocabSize);
  const pipelines = new PipelineCache(device);
  const variants: Variant[] = [];
  let what: string;
  let knobsModel: DeepseekModel | null = null;

  if (batchSizes.length) {
    what = `batched decode steps after ${context}-token prompts, ${values.sampled ? 'sampled at temperature 0.8' : 'greedy'}`;
    // --knobs: the same steps on a second copy of the model loaded with those launch knobs changed, interleaved.
    if (values.knobs) knobsModel = await DeepseekModel.load(gpu, await openModelFolder(nodeFolder(values.model)), { ...batchLoad, profile: withKnobs(model.profile, JSON.parse(values.knobs)) });
    const models: [string, DeepseekModel][] = knobsModel ? [['', model], [' knobs', knobsModel]] : [['', model]];
    for (const B of batchSizes) {
      for (const [suffix, m] of models) {
        const step = await batchStep(m, B, prompt, values.sampled);
        variants.push({ name: `B=${B}${suffix}`, run: step, capture: () => capture((l) => m.traceDispatches(l), step) });
      }
    }
  } else if (values.steps) {
    const trace = (listener: ((e: DispatchEvent) => void) | null) => model.traceDispatches(listener);
    const spec = model.speculator();
    if (!spec) throw new Error(`${values.model} has no MTP module`);
    what = `decode steps after a ${context}-token prompt`;
    model.truncate(0);
    await model.append(prompt, null);
    const plain = async () => {
      await model.append([7], GREEDY);
      model.truncate(context);
    };
    // The speculator's state after its prefill: one pending row; each step verifies [t, d] and is then undone.
    model.truncate(0);
    const t = await spec.prefill(prompt, GREEDY);
    const mtpLength = model.seq.mtpLength;
    const specStep = async () => {
      const s = await spec.step(t, [GREEDY], [GREEDY, GREEDY], false);
      spec.commit(s, 0, t); // pending is [t] again; the caches go back to the prompt
      model.truncate(context);
      model.seq.mtpLength = mtpLength;
    };
    // Plain steps need only the main cache: they write position `context` like the speculative one.
    variants.push({ name: 'plain', run: plain, capture: () => capture(trace, plain) });
    variants.push({ name: 'mtp k=1', run: specStep, capture: () => capture(trace, specStep) });
  } else {
    what = `forward of ${c.numHiddenLayers} layers at context ${context}`;
    await model.append(prompt, null);
    const rowCounts = values.rows.split(',').map(Number);
    const attentionWorkgroups = model.attentionWorkgroups;
    const act = new Activations(gpu, c, Math.max(...rowCounts), 1, false, attentionWorkgroups);
    device.queue.writeBuffer(act.tokens, 0, Uint32Array.from({ length: act.rows }, (_, i) => (i * 11 + 3) % c.vocabSize));
    const f: ForwardContext = {
      c,
      weights: model.weights,
      cache: model.cache,
      rowMaps: new RowMaps(gpu, RowMaps.bytesFor(act.rows, 1, 1)),
      act,
      invFreq: uploadStorage(device, Float32Array.from(c.ropeInvFreq), 'rope inverse frequencies'),
      attentionWorkgroups,
    };
    const rec = new Recorder(device, pipelines, model.profile);
    for (const rows of rowCounts) {
      // The rows overwrite cache positions context.. every time; the cache length never moves.
      const step = async () => {
        model.seq.reserve(rec, context, context + rows);
        recordForward(rec, f, placeRows(rec, f, [{ rows, firstPos: context, tableAt: model.seq.tableAt }]));
        rec.submit();
        await device.queue.onSubmittedWorkDone();
      };
      variants.push({ name: `rows=${rows}`, run: step, capture: () => capture((l) => (rec.onDispatch = l), step) });
    }
  }

  // Whole steps, interleaved over the variants so drifting load hits all alike.
  const wall = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  const cpu = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  for (let s = 0; s < samples + 2; s++) {
    for (const v of variants) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await v.run();
      const ms = performance.now() - t0;
      const used = process.cpuUsage(c0);
      if (s < 2) continue; // warm-up
      wall.get(v.name)!.push(ms);
      cpu.get(v.name)!.push((used.user + used.system) / 1000);
    }
  }

  // Each dispatch of one step alone, `reps` times per submission, median of 5 submissions.
  const names = new Map([...weightNames(model.weights), ...(knobsModel ? weightNames(knobsModel.weights) : [])]);
  const table = new Map<string, Map<string, { ms: number; count: number }>>();
  const sums = new Map<string, number>();
  const counts = new Map<string, number>();
  const replay = new Recorder(device, pipelines, model.profile);
  for (const v of variants) {
    const captured = await v.capture();
    counts.set(v.name, captured.length);
    let sum = 0;
    for (const d of captured) {
      const times: number[] = [];
      for (let s = 0; s < 5; s++) {
        const t0 = performance.now();
        for (let i = 0; i < reps; i++) replay.dispatch(d.pipeline, d.buffers, d.params, d.grid, d.label);
        replay.submit();
        await device.queue.onSubmittedWorkDone();
        times.push((performance.now() - t0) / reps);
      }
      const ms = median(times);
      sum += ms;
      const weight = d.buffers.map((b) => names.get(b.buffer)).find((n) => n !== undefined);
      const name = weight ? `${d.label} ${weight}` : d.label;
      if (!table.has(name)) table.set(name, new Map());
      const e = table.get(name)!.get(v.name) ?? { ms: 0, count: 0 };
      e.ms += ms;
      e.count++;
      table.get(name)!.set(v.name, e);
    }
    sums.set(v.name, sum);
  }

  console.log(`${what}; ${gpu.adapterInfo.description}; per-kernel ms = dispatches replayed alone, summed`);
  const first = variants[0].name;
  const last = variants.at(-1)!.name;
  console.log('kernel (weight)'.padEnd(36) + variants.map((v) => `${v.name.padStart(9)}: n     ms`).join('   ') + `   ${last} / ${first}`);
  for (const [name, cells] of table) {
    const row = variants.map((v) => {
      const e = cells.get(v.name);
      return e ? `${String(e.count).padStart(12)} ${e.ms.toFixed(3).padStart(7)}` : ' '.repeat(20);
    });
    const a = cells.get(first)?.ms;
    const b = cells.get(last)?.ms;
    console.log(name.padEnd(36) + row.join('   ') + (a && b ? `   ${(b / a).toFixed(2)}` : ''));
  }
  for (const v of variants) {
    const w = wall.get(v.name)!;
    console.log(
      `${v.name}: ${counts.get(v.name)} dispatches, replayed sum ${sums.get(v.name)!.toFixed(2)} ms; ` +
        `step wall median ${median(w).toFixed(2)} ms (min ${Math.min(...w).toFixed(2)}), CPU median ${median(cpu.get(v.name)!).toFixed(2)} ms`,
    );
  }
  const base = median(wall.get(first)!);
  console.log(`wall ratio to ${first}: ${variants.map((v) => `${v.name} ${(median(wall.get(v.name)!) / base).toFixed(2)}`).join(', ')}`);
  model.dispose();
  knobsModel?.dispose();
  gpu.destroy();
}

await main();
