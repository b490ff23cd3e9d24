// `--quantize q4` end to end (docs/q4.md): the GPU engine against the CPU reference on the same 4-bit
// weights (the reference's q4 dequantization, src/reference/weights.ts), from an FP8 source (tiny-v3, MTP
// included) and a BF16 one (tiny-v2lite); and the saved form (`quantize`, src/cli/quantize.ts): loading it
// computes exactly what quantizing at load computes, and the reference reads it as the same weights.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openModelFolder, type ModelFolder } from '../src/checkpoint/model-folder.ts';
import { nodeFolder } from '../src/checkpoint/sources/node-file.ts';
import { writeQ4Folder } from '../src/cli/quantize.ts';
import { DeepseekModel } from '../src/model/deepseek-model.ts';
import { ReferenceModel } from '../src/reference/model.ts';
import { loadReferenceWeights } from '../src/reference/weights.ts';
import { argmax, describeDiff, relL2 } from './helpers/compare.ts';
import { loadFixtureModel, type FixtureModel } from './helpers/fixture-model.ts';
import { getTestGpu } from './helpers/gpu.ts';
import { testProfile } from './helpers/profile.ts';

const gpu = await getTestGpu();

// As in model.test.ts: f32 in another order than the float64 reference, on identical weights; measured at
// most 6.8e-7 per row here, while one wrong nibble, group scale or kept-vs-quantized tensor moves rows by >1e-3.
const ROW_TOL = 1e-5;

function expectRows(got: Float32Array, want: ArrayLike<number>, rows: number, what: string) {
  const width = got.length / rows;
  for (let r = 0; r < rows; r++) {
    const g = got.subarray(r * width, (r + 1) * width);
    const w = Array.from({ length: width }, (_, i) => want[r * width + i]);
    expect(relL2(g, w), `${what} row ${r}\n${describeDiff(g, w, 1e-5)}`).toBeLessThanOrEqual(ROW_TOL);
    expect(argmax(g), `${what} row ${r} argmax`).toBe(argmax(w));
  }
}

/** Every Float32Array under `value` with its path, in a fixed order. */
function arrays(value: unknown, path = ''): [string, Float32Array][] {
  if (value instanceof Float32Array) return [[path, value]];
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([k, v]) => arrays(v, `${path}.${k}`));
}

describe.skipIf(!gpu).each(['kernels-test/fixtures/tiny-v3', 'kernels-test/fixtures/tiny-v2lite'])('GPU engine with --quantize q4: %s', (dir) => {
  let f: FixtureModel;
  beforeAll(async () => void (f = await loadFixtureModel(gpu!, dir, { prefillChunk: 16, quantize: 'q4', profile: testProfile(gpu!.device) })));
  afterAll(async () => f?.close());

  it('keeps linear and expert weights as q4, the router, lm_head and kv_b_proj as stored', () => {
    const w = f.model.weights;
    for (const l of w.layers) {
      expect(l.attention.o.format).toBe('q4');
      expect(l.attention.kvB.dtype).toBe(f.folder.checkpoint.info('model.layers.0.self_attn.kv_b_proj.weight').dtype);
      if (l.dense) expect([l.dense.gate.format, l.dense.up.format, l.dense.down.format]).toEqual(['q4', 'q4', 'q4']);
      if (l.moe) {
        expect([l.moe.experts.format, l.moe.shared?.format ?? 'q4', l.moe.experts.group]).toEqual(['q4', 'q4', 32]);
        expect(l.moe.router.format).not.toBe('q4');
      }
    }
    expect(w.lmHead.every((p) => p.weight.format !== 'q4')).toBe(true);
  });

  it('seq3 logits, first 24 tokens (prefill in chunks of 16, both expert paths), equal the reference on the same q4 weights', async () => {
    const tokens = Array.from(await f.golden.readIntegers('seq3.tokens')).slice(0, 24);
    f.model.truncate(0);
    const got = await f.model.appendLogits(tokens);
    const ref = new ReferenceModel(f.folder.config, await loadReferenceWeights(f.folder.checkpoint, f.folder.config, false, { quantize: 'q4' }));
    expectRows(got, ref.forward(ref.newState(), tokens).logits, tokens.length, 'q4 logits');
  });
});

describe.skipIf(!gpu)('the q4 saved form (quantize --format q4): tiny-v3', () => {
  const dir = 'kernels-test/fixtures/tiny-v3';
  let tmp: string;
  let source: ModelFolder;
  let saved: ModelFolder;
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'q4-saved-'));
    await writeQ4Folder(dir, join(tmp, 'tiny-v3-q4'));
    source = await openModelFolder(nodeFolder(dir));
    saved = await openModelFolder(nodeFolder(join(tmp, 'tiny-v3-q4')));
  });
  afterAll(async () => {
    await source?.checkpoint.close();
    await saved?.checkpoint.close();
    await rm(tmp, { recursive: true, force: true });
  });

  it('says what it is, and the reference reads it as exactly the weights --quantize q4 makes', async () => {
    expect(saved.config.quantization).toEqual({ method: 'q4', groupSize: 32, weightBlockSize: [128, 128] });
    const oProj = 'model.layers.1.self_attn.o_proj.weight';
    expect([saved.checkpoint.info(oProj).dtype, saved.checkpoint.info(`${oProj}_scale`).dtype, saved.checkpoint.has(`${oProj}_scale_inv`)]).toEqual(['I32', 'F32', false]);
    const fromSaved = await loadReferenceWeights(saved.checkpoint, saved.config, true);
    const atLoad = await loadReferenceWeights(source.checkpoint, source.config, true, { quantize: 'q4' });
    const [got, want] = [arrays(fromSaved), arrays(atLoad)];
    expect(got.map(([p]) => p)).toEqual(want.map(([p]) => p));
    for (const [i, [path, a]] of got.entries()) expect(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(want[i][1].buffer, want[i][1].byteOffset, want[i][1].byteLength)), path).toBe(true);
  });

  it('loads without re-quantizing and computes what quantizing at load computes, bit for bit', async () => {
    const tokens = Array.from({ length: 40 }, (_, i) => (i * 37 + 5) % saved.config.vocabSize);
    const a = await DeepseekModel.load(gpu!, saved, { prefillChunk: 16 });
    const b = await DeepseekModel.load(gpu!, source, { prefillChunk: 16, quantize: 'q4' });
    try {
      expect(a.weights.bytes).toBe(b.weights.bytes);
      expect(Buffer.from((await a.appendLogits(tokens)).buffer).equals(Buffer.from((await b.appendLogits(tokens)).buffer))).toBe(true);
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});
