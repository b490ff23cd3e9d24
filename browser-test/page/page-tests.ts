// What browser-test/chromium.test.ts runs inside the page (window.pageTests). Each test returns plain data
// (errors as numbers per case or row) and the Node side asserts on it, so a failure prints the figures.
//
// The public API comes from the library bundle, dist/browser/deepseek-webgpu.js, loaded at run time as a page
// would load it (the build maps ../../src/index.ts to it); kernel wrappers and CPU references are inlined.
import { relL2 } from '../../kernels-test/helpers/compare.ts';
import { KernelHarness } from '../../kernels-test/helpers/harness.ts';
import { randomF32, rng } from '../../kernels-test/helpers/rand.ts';
import { dequantFp8Block } from '../../src/checkpoint/fp8-blocks.ts';
import { recordMatmul } from '../../src/kernels/matmul.ts';
import { toMatmulLayout, type MatmulFormat } from '../../src/kernels/matmul-layout.ts';
import { rmsnorm } from '../../src/kernels/rmsnorm.ts';
import { linear } from '../../src/reference/matmul.ts';
import { rmsnorm as rmsnormRef } from '../../src/reference/rmsnorm.ts';
import { clearModelCache, createGpu, httpFolder, loadModel, loadModelInWorker, openCheckpoint, type ChatCompletionChunk, type LoadPhase } from '../../src/index.ts';
import { knob } from '../../src/gpu/launch-profile.ts';
import { adapterProfile } from '../../src/model/deepseek-model.ts';
import { writeTuneRecordIdb } from '../../src/tune/tune-cache-idb.ts';
import { adapterIdentity, type TuneRecord } from '../../src/tune/tune-record.ts';

export interface CaseError {
  name: string;
  relL2: number;
}

export interface RowCheck {
  relL2: number;
  argmax: number;
  goldenArgmax: number;
}

export interface GoldenSequence {
  seq: number;
  tokens: number;
  rows: RowCheck[];
}

function argmaxOf(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** Random e4m3 codes as in a checkpoint: never NaN (0x7F / 0xFF). */
function fp8Codes(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  return Uint8Array.from({ length: n }, () => {
    let c = 0x7f;
    while ((c & 0x7f) === 0x7f) c = Math.floor(r() * 256);
    return c;
  });
}

const pageTests = {
  /** rmsnorm and matmul (FP8 block-scaled and F32) against the CPU references: relL2 per case. */
  async kernels(): Promise<CaseError[]> {
    const gpu = await createGpu({ label: 'page kernels' });
    const h = new KernelHarness(gpu.device);
    const results: CaseError[] = [];
    try {
      for (const [rows, dim] of [[1, 7], [3, 256], [2, 1001], [4, 7168]]) {
        const x = randomF32(rows * dim, rows * dim, 3);
        const w = randomF32(dim, dim + 1);
        const out = h.output(rows * dim);
        rmsnorm.record(h.rec, { x: h.input(x), weight: h.input(w), out }, { rows, dim, eps: 1e-6 });
        results.push({ name: `rmsnorm ${rows}x${dim}`, relL2: relL2(await h.run(out), rmsnormRef(x, rows, dim, w, 1e-6)) });
      }
      const shapes: [MatmulFormat, number, number, number][] = [
        ['fp8', 1, 129, 257],
        ['fp8', 5, 576, 512],
        ['f32', 3, 45, 65],
        ['f32', 9, 200, 130],
      ];
      for (const [format, rows, outDim, inDim] of shapes) {
        let bytes: Uint8Array;
        let dense: Float32Array;
        let scale: Float32Array | undefined;
        if (format === 'fp8') {
          bytes = fp8Codes(outDim * inDim, outDim);
          scale = randomF32(Math.ceil(outDim / 128) * Math.ceil(inDim / 128), 7).map((v) => (1 + Math.abs(v)) / 448);
          dense = dequantFp8Block(bytes, outDim, inDim, scale, 128, 128);
        } else {
          dense = randomF32(outDim * inDim, outDim);
          bytes = new Uint8Array(dense.buffer);
        }
        const layout = toMatmulLayout(format, bytes, 0, outDim, inDim);
        const weight = { format, outDim, inDim, w: h.input(layout.bytes), scale: scale && h.input(scale) };
        const x = randomF32(rows * inDim, rows + inDim, 2);
        const y = h.output(rows * outDim);
        recordMatmul(h.rec, weight, h.input(x), y, rows);
        const got = await h.run(y);
        const want = linear(x, rows, inDim, dense, outDim);
        // Per output row, as the Node suite measures it; the worst row is reported.
        let worst = 0;
        for (let r = 0; r < rows; r++) {
          const e = relL2(got.subarray(r * outDim, (r + 1) * outDim), want.subarray(r * outDim, (r + 1) * outDim));
          if (!(e <= worst)) worst = e;
        }
        results.push({ name: `matmul ${format} ${rows} rows x [${outDim}, ${inDim}]`, relL2: worst });
      }
    } finally {
      h.destroy();
      gpu.destroy();
    }
    return results;
  },

  /**
   * The model at `base` loaded over HTTP range requests with the public loadModel(), and its logits for the
   * golden sequences of `base`/golden.safetensors: relL2 and argmax per row.
   */
  async goldenLogits(base: string): Promise<GoldenSequence[]> {
    const engine = await loadModel(base, { prefillChunk: 16 });
    const golden = await openCheckpoint(httpFolder(base), { file: 'golden.safetensors' });
    const out: GoldenSequence[] = [];
    try {
      const vocab = engine.config.vocabSize;
      for (let seq = 0; golden.has(`seq${seq}.tokens`); seq++) {
        const tokens = Array.from(await golden.readIntegers(`seq${seq}.tokens`));
        const logits = await engine.logits(tokens);
        const want = await golden.readF32(`seq${seq}.logits`);
        const rows = tokens.map((_, t) => {
          const a = logits.subarray(t * vocab, (t + 1) * vocab);
          const g = want.subarray(t * vocab, (t + 1) * vocab);
          return { relL2: relL2(a, g), argmax: argmaxOf(a), goldenArgmax: argmaxOf(g) };
        });
        out.push({ seq, tokens: tokens.length, rows });
      }
    } finally {
      await golden.close();
      await engine.dispose();
    }
    return out;
  },

  /**
   * The model at `base` loaded with `options` (no warm-up), disposed again: seconds and the phases reported.
   * `clear` empties the model cache first; with `generate`, six greedy tokens (compiling what they need).
   */
  async loadOnce(base: string, options: { cache?: boolean; clear?: boolean; generate?: boolean } = {}): Promise<{ seconds: number; phases: LoadPhase[]; text: string }> {
    if (options.clear) await clearModelCache();
    const phases = new Set<LoadPhase>();
    const t0 = performance.now();
    const engine = await loadModel(base, { cache: options.cache, warmup: false, onProgress: (_d, _t, phase) => phases.add(phase) });
    const seconds = (performance.now() - t0) / 1000;
    const text = options.generate ? (await engine.generate('In the beginning', { maxNewTokens: 6, temperature: 0 }).result).text : '';
    await engine.dispose();
    return { seconds, phases: [...phases], text };
  },

  /**
   * The model at `base` in a Web Worker (the worker bundle beside the library bundle): greedy text from
   * generate and from chat.completions.create (streamed), the load phases, and the error class of a refused call.
   */
  async inWorker(base: string): Promise<{ phases: LoadPhase[]; text: string; chunks: string[]; finish: string | null; error: string }> {
    const phases = new Set<LoadPhase>();
    const engine = await loadModelInWorker(base, { onProgress: (_d, _t, phase) => phases.add(phase) });
    try {
      const { text } = await engine.generate('In the beginning', { maxNewTokens: 6, temperature: 0 }).result;
      const chunks: ChatCompletionChunk[] = [];
      for await (const c of await engine.chat.completions.create({ messages: [{ role: 'user', content: 'In the beginning' }], max_tokens: 4, temperature: 0, stream: true })) chunks.push(c);
      const error = await engine.generate({ tokens: [-1] }).result.then(() => 'none', (e: Error) => `${e.constructor.name} ${e.name}: ${e.message}`);
      return { phases: [...phases], text, chunks: chunks.map((c) => c.choices[0]?.delta.content ?? ''), finish: chunks.at(-1)!.choices[0].finish_reason, error };
    } finally {
      await engine.dispose();
    }
  },

  /**
   * Greedy text of the model at `base` loaded whole, then under `gpuMemory` (routed experts offloaded, fetched
   * by range requests when routed), with the offloaded run's plan and expert cache figures.
   */
  async offloadedText(base: string, prompt: string, gpuMemory: string): Promise<{ whole: string; offloaded: string; slots: number | null; experts: number; uploaded: number }> {
    const texts: string[] = [];
    let slots: number | null = null;
    let uploaded = 0;
    let experts = 0;
    for (const budget of [undefined, gpuMemory]) {
      const engine = await loadModel(base, { gpuMemory: budget });
      try {
        const r = await engine.generate(prompt, { maxNewTokens: 16, temperature: 0, speculative: 'none' }).result;
        texts.push(r.text);
        if (budget !== undefined) {
          slots = engine.model.plan.offload?.slots ?? null;
          experts = engine.config.nRoutedExperts;
          uploaded = engine.model.expertCache?.bytesUploaded ?? 0; // since load
        }
      } finally {
        await engine.dispose();
      }
    }
    return { whole: texts[0], offloaded: texts[1], slots, experts, uploaded };
  },

  /**
   * The model at `base` loaded with a tune record kept in IndexedDB for another driver, then with one for this
   * adapter (residual-add's WG_SIZE changed): the launch profile's name and that knob, each time.
   */
  async tunedLoad(base: string): Promise<{ name: string; wg: number }[]> {
    const gpu = await createGpu();
    const out: { name: string; wg: number }[] = [];
    try {
      const adapter = adapterIdentity(gpu.adapterInfo);
      const record: TuneRecord = { version: 1, adapter, base: adapterProfile(gpu).name, changes: { 'residual-add': { WG_SIZE: 64 } }, model: base, created: '', table: [] };
      // Another driver's record first (kept under its own key: this adapter still has none), then this one's.
      for (const r of [{ ...record, adapter: { ...adapter, description: `${adapter.description} (another driver)` } }, record]) {
        await writeTuneRecordIdb(r);
        const engine = await loadModel(base, { gpu, warmup: false });
        out.push({ name: engine.model.profile.name, wg: knob(engine.model.profile, 'residual-add', 'WG_SIZE') });
        await engine.dispose();
      }
    } finally {
      gpu.destroy();
    }
    return out;
  },

  /** The error loadModel() throws for `url` (expected to fail), as name and message. */
  async loadError(url: string): Promise<{ name: string; message: string } | null> {
    try {
      const engine = await loadModel(url);
      await engine.dispose();
      return null;
    } catch (e) {
      return { name: (e as Error).name, message: (e as Error).message };
    }
  },
};

export type PageTests = typeof pageTests;
(window as unknown as { pageTests: PageTests }).pageTests = pageTests;
document.body.dataset.ready = 'true';
