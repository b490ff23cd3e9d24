// matmul (shaders/matmul.wgsl via src/kernels/matmul.ts) against src/reference/matmul.ts `linear`, with FP8
// weights dequantized on the CPU (dequantFp8Block), q4 ones by dequantQ4 and BF16 decoded (decodeToF32); the e4m3 decode of all
// 256 codes; the GPU layout conversion (src/kernels/matmul-layout.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Checkpoint } from '../src/checkpoint/checkpoint.ts';
import { decodeToF32 } from '../src/checkpoint/decode.ts';
import { dequantFp8Block } from '../src/checkpoint/fp8-blocks.ts';
import { dequantQ4, quantizeQ4 } from '../src/checkpoint/q4-quantize.ts';
import { openCheckpointDir } from '../src/checkpoint/sources/node-file.ts';
import { defineKernel } from '../src/gpu/kernel.ts';
import { withKnobs } from '../src/gpu/launch-profile.ts';
import { PipelineCache } from '../src/gpu/pipelines.ts';
import { SHADER_SOURCES } from '../src/gpu/shaders.gen.ts';
import { recordMatmul, type MatmulWeight } from '../src/kernels/matmul.ts';
import { matmulLayoutBytes, toMatmulLayout, type MatmulFormat } from '../src/kernels/matmul-layout.ts';
import { linear } from '../src/reference/matmul.ts';
import { MATMUL_CASES, MATMUL_SHAPES } from './helpers/cases.ts';
import { describeDiff, relL2 } from './helpers/compare.ts';
import { getTestGpu } from './helpers/gpu.ts';
import { KernelHarness } from './helpers/harness.ts';
import { randomF32, rng } from './helpers/rand.ts';

const gpu = await getTestGpu();
const FORMATS: MatmulFormat[] = ['fp8', 'q4', 'bf16', 'f32'];
// q4 weights here use 64-input groups: every odd shape then ends on a partial group (13, 257, 130, 65 inputs).
const Q4_TEST_GROUP = 64;

// f32 accumulation of at most a few thousand products (7168 here): rounding ~1e-7..1e-6 relative, so 1e-5 per
// output row holds while a wrong index, tile, block scale or decoded value moves a row by >1e-2.
const TOL = 1e-5;

// A test-only kernel around the shared decoder: out[5w .. 5w+3] = e4m3x4_to_vec4(words[w]), out[5w+4] =
// e4m3_to_f32(words[w]) (the low byte).
const FP8_DECODE_TEST = `#include "common/fp8.wgsl"
struct Params { n: u32 }
@group(0) @binding(0) var<storage, read> words: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let w = gid.x;
  if (w < params.n) {
    let v = e4m3x4_to_vec4(words[w]);
    out[5u * w] = v.x; out[5u * w + 1u] = v.y; out[5u * w + 2u] = v.z; out[5u * w + 3u] = v.w;
    out[5u * w + 4u] = e4m3_to_f32(words[w]);
  }
}`;
const fp8DecodeTest = defineKernel({
  shader: 'fp8-decode-test',
  bindings: { words: 'read', out: 'read_write' },
  params: { n: 'u32' },
  overrides: {},
  grid: (p) => [Math.ceil(p.n / 64)],
});

/** Random e4m3 codes as in a checkpoint (no NaN 0x7F/0xFF), starting with every zero and subnormal code. */
function fp8Codes(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  const codes = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let c = 0x7f;
    while ((c & 0x7f) === 0x7f) c = Math.floor(r() * 256);
    codes[i] = i < 16 ? (i & 7) | ((i & 8) << 4) : c; // 0x00..0x07, 0x80..0x87 first
  }
  return codes;
}

/** Checkpoint bytes of a random [out, in] weight, its dense f32 values, and its FP8 scales. */
function randomWeight(format: MatmulFormat, out: number, inDim: number, seed: number) {
  if (format === 'fp8') {
    const codes = fp8Codes(out * inDim, seed);
    const scale = randomF32(Math.ceil(out / 128) * Math.ceil(inDim / 128), seed + 1, 1).map((v) => (1 + Math.abs(v)) / 448);
    return { bytes: codes, dense: dequantFp8Block(codes, out, inDim, scale, 128, 128), scale };
  }
  const f = randomF32(out * inDim, seed);
  if (format === 'q4') {
    const q = quantizeQ4(f, out, inDim, Q4_TEST_GROUP);
    return { bytes: new Uint8Array(q.codes.buffer), dense: dequantQ4(q, out, inDim, Q4_TEST_GROUP), scale: q.scale };
  }
  if (format === 'f32') return { bytes: new Uint8Array(f.buffer), dense: f };
  const bf = Uint16Array.from(new Uint32Array(f.buffer), (b) => b >>> 16); // the top half of an f32
  const bytes = new Uint8Array(bf.buffer);
  return { bytes, dense: decodeToF32(bytes, 'BF16') };
}

function upload(h: KernelHarness, format: MatmulFormat, bytes: Uint8Array, out: number, inDim: number, scale?: Float32Array): MatmulWeight {
  const piece = toMatmulLayout(format, bytes, 0, out, inDim);
  expect(piece.bytes.length).toBe(matmulLayoutBytes(format, out, inDim));
  const block = format === 'q4' ? ([1, Q4_TEST_GROUP] as const) : undefined;
  return { format, outDim: out, inDim, w: h.input(piece.bytes, 'w'), scale: scale && h.input(scale, 'scale'), block };
}

/** The largest relative L2 error over the rows of [rows, cols] outputs (each row its own metric). */
function worstRow(got: Float32Array, want: ArrayLike<number>, rows: number, cols: number, stride = cols): { err: number; diff: string } {
  let worst = { err: 0, diff: '' };
  for (let r = 0; r < rows; r++) {
    const g = got.subarray(r * stride, r * stride + cols);
    const w = Array.from({ length: cols }, (_, o) => want[r * cols + o]);
    const err = relL2(g, w);
    if (!(err <= worst.err)) worst = { err, diff: `row ${r}: ${describeDiff(g, w)}` };
  }
  return worst;
}

describe('matmul layout conversion (CPU)', () => {
  it.each(FORMATS)('%s: converting in pieces of 8 rows equals converting whole', (format) => {
    for (const [out, inDim] of [[45, 13], [200, 130], [8, 4]]) {
      const { bytes } = randomWeight(format, out, inDim, out + inDim);
      const whole = toMatmulLayout(format, bytes, 0, out, inDim);
      expect(whole.offset).toBe(0);
      const pieced = new Uint8Array(whole.bytes.length).fill(0xee);
      const rowBytes = bytes.length / out;
      for (let r0 = 0; r0 < out; r0 += 16) {
        const r1 = Math.min(out, r0 + 16);
        const piece = toMatmulLayout(format, bytes.subarray(r0 * rowBytes, r1 * rowBytes), r0, out, inDim);
        pieced.set(piece.bytes, piece.offset);
      }
      expect(Buffer.from(pieced).equals(Buffer.from(whole.bytes))).toBe(true); // byte-identical, padding included
    }
  });

  it('places element (o, k) at tile (o/4, k/4), [k%4][o%4]', () => {
    const out = 13;
    const inDim = 6; // 2 k-tiles; 13 rows -> 4 groups of 4 (16 rows, padded)
    const codes = Uint8Array.from({ length: out * inDim }, (_, i) => 1 + (i % 250));
    const { bytes } = toMatmulLayout('fp8', codes, 0, out, inDim);
    expect(bytes.length).toBe(4 * 2 * 16);
    for (let o = 0; o < 16; o++) {
      for (let k = 0; k < 8; k++) {
        const at = ((o >> 2) * 2 + (k >> 2)) * 16 + (k & 3) * 4 + (o & 3);
        expect(bytes[at], `(${o}, ${k})`).toBe(o < out && k < inDim ? codes[o * inDim + k] : 0);
      }
    }
  });

  it('refuses pieces that split a group of 8 rows', () => {
    const bytes = new Uint8Array(12 * 4);
    expect(() => toMatmulLayout('fp8', bytes, 4, 20, 4)).toThrow(/multiple of 8/);
    expect(() => toMatmulLayout('fp8', bytes, 0, 20, 4)).toThrow(/end at a multiple of 8/);
  });
});

describe.skipIf(!gpu)('matmul on the GPU', () => {
  let h: KernelHarness;
  beforeAll(() => void (h = new KernelHarness(gpu!.device)));
  afterAll(() => h.destroy());

  /** y = x · Wᵀ against the reference; `knobs` replace the test profile's matmul knobs (rows per thread, subgroups). */
  async function check(format: MatmulFormat, out: number, inDim: number, rows: number, knobs?: Record<string, number>) {
    const hk = knobs ? new KernelHarness(gpu!.device, h.pipelines, withKnobs(h.rec.profile, { matmul: knobs })) : h;
    try {
      const { bytes, dense, scale } = randomWeight(format, out, inDim, 3 * out + inDim);
      const weight = upload(hk, format, bytes, out, inDim, scale);
      const x = randomF32(rows * inDim, rows + out, 2);
      const y = hk.output(rows * out, 'y');
      recordMatmul(hk.rec, weight, hk.input(x, 'x'), y, rows);
      const got = await hk.run(y);
      return worstRow(got, linear(x, rows, inDim, dense, out), rows, out);
    } finally {
      if (hk !== h) hk.destroy();
    }
  }

  // Real shapes: kv_a_proj_with_mqa [576, 7168] (a partial 128-block of rows) and the expert gate/up [2048, 7168].
  const [kvA, gateUp] = [MATMUL_SHAPES.real[1], MATMUL_SHAPES.real[3]];
  const decodeShapes = [...MATMUL_SHAPES.tiny, ...MATMUL_SHAPES.odd, kvA, gateUp];
  describe.each(FORMATS)('%s', (format) => {
    // Real shapes: all of them for FP8; BF16, F32 and q4 share the loop, so one real shape each (decode only for q4).
    const shapes = format === 'fp8' ? decodeShapes : decodeShapes.slice(0, -1);
    it.each(shapes.flatMap(([out, inDim]) => MATMUL_CASES.decodeRows.map((rows) => [rows, out, inDim])))(
      'decode: %i rows x [%i, %i]',
      async (rows, out, inDim) => {
        const { err, diff } = await check(format, out, inDim, rows);
        expect(err, diff).toBeLessThanOrEqual(TOL);
      },
    );

    // The real shape at 5 and 64 rows only (77 rows of it would add seconds on SwiftShader and nothing new).
    const small = [...MATMUL_SHAPES.tiny, ...MATMUL_SHAPES.odd];
    const prefillCases = [...small.flatMap(([out, inDim]) => MATMUL_CASES.prefillRows.map((rows) => [rows, out, inDim])), ...(format === 'q4' ? [] : [[5, ...kvA], [64, ...kvA]])];
    // 77 rows end in a partial block of 5; 5 rows in blocks of 2 end in a partial block of 1.
    it.each(prefillCases)('prefill (blocks of ROWS rows): %i rows x [%i, %i]', async (rows, out, inDim) => {
      const { err, diff } = await check(format, out, inDim, rows, { ROWS: rows === 5 ? 2 : 8 });
      expect(err, diff).toBeLessThanOrEqual(TOL);
    });
  });

  // The cases above use subgroups when the device has them (SwiftShader does); the other x load, briefly.
  const otherX = !gpu?.features.includes('subgroups');
  it.each(FORMATS.flatMap((f) => [[f, 1, 45, 65], [f, 3, 129, 257], [f, 8, 200, 130], [f, 77, 7, 13]] as const))(
    `%s with subgroups ${otherX}: %i rows x [%i, %i]`,
    async (format, rows, out, inDim) => {
      const { err, diff } = await check(format, out, inDim, rows, { SUBGROUPS: otherX ? 1 : 0 });
      expect(err, diff).toBeLessThanOrEqual(TOL);
    },
  );

  it.each([
    ['fp8', 3, 129, 257],
    ['bf16', 1, 200, 130],
    ['f32', 64, 45, 65],
    ['fp8', 77, 576, 512],
  ] as const)('%s fused residual: y += x · Wᵀ in place, %i rows x [%i, %i]', async (format, rows, out, inDim) => {
    const { bytes, dense, scale } = randomWeight(format, out, inDim, 11);
    const weight = upload(h, format, bytes, out, inDim, scale);
    const x = randomF32(rows * inDim, 12);
    const residual = randomF32(rows * out, 13, 4);
    const y = h.input(residual, 'residual');
    recordMatmul(h.rec, weight, h.input(x, 'x'), y, rows, { accumulate: true });
    const got = await h.run(y);
    const want = linear(x, rows, inDim, dense, out).map((v, i) => v + residual[i]);
    const { err, diff } = worstRow(got, want, rows, out);
    expect(err, diff).toBeLessThanOrEqual(TOL);
  });

  it('writes a column slice of a wider y (yStride) and nothing else', async () => {
    const [rows, out, inDim, stride] = [3, 20, 33, 29];
    const { bytes, dense } = randomWeight('bf16', out, inDim, 5);
    const weight = upload(h, 'bf16', bytes, out, inDim);
    const x = randomF32(rows * inDim, 6);
    const y = h.output(rows * stride, 'y');
    recordMatmul(h.rec, weight, h.input(x, 'x'), y, rows, { yStride: stride });
    const got = await h.run(y);
    const { err, diff } = worstRow(got, linear(x, rows, inDim, dense, out), rows, out, stride);
    expect(err, diff).toBeLessThanOrEqual(TOL);
    for (let r = 0; r < rows; r++) for (let c = out; c < stride && r * stride + c < got.length; c++) expect(got[r * stride + c]).toBeNaN();
  });

  // Row slices at byte offsets storage bindings can't start at (not multiples of 256): the hidden state of a
  // prompt's last position (x) and a draft's row of logits (y) of widths like 37 or 61.
  it.each(['fp8', 'bf16', 'f32'] as const)('%s: x and y taken from unaligned row offsets, nothing else written', async (format) => {
    const [rows, out, inDim, xSkip, ySkip] = [2, 61, 37, 3, 5];
    const { bytes, dense, scale } = randomWeight(format, out, inDim, 21);
    const weight = upload(h, format, bytes, out, inDim, scale);
    const x = randomF32((xSkip + rows) * inDim, 22);
    const y = h.output((ySkip + rows + 1) * out, 'y');
    const xRange = { buffer: h.input(x, 'x'), offset: xSkip * inDim * 4, size: rows * inDim * 4 };
    recordMatmul(h.rec, weight, xRange, { buffer: y, offset: ySkip * out * 4, size: rows * out * 4 }, rows);
    const got = await h.run(y);
    const { err, diff } = worstRow(got.subarray(ySkip * out), linear(x.subarray(xSkip * inDim), rows, inDim, dense, out), rows, out);
    expect(err, diff).toBeLessThanOrEqual(TOL);
    for (let i = 0; i < got.length; i++) if (i < ySkip * out || i >= (ySkip + rows) * out) expect(got[i], `y[${i}]`).toBeNaN();
  });

  it('refuses an x range too short for its rows, naming the binding', () => {
    const { bytes, scale } = randomWeight('fp8', 8, 16, 1);
    const weight = upload(h, 'fp8', bytes, 8, 16, scale);
    const x = h.input(new Float32Array(64), 'x');
    expect(() => recordMatmul(h.rec, weight, { buffer: x, offset: 4 * 40, size: 4 * 24 }, h.output(16), 2)).toThrow(/binding 'x' has 96 bytes, needs 128/);
  });

  describe('FP8 against the tiny-v3 checkpoint', () => {
    let golden: Checkpoint;
    let ckpt: Checkpoint;
    beforeAll(async () => {
      ckpt = await openCheckpointDir('kernels-test/fixtures/tiny-v3');
      golden = await openCheckpointDir('kernels-test/fixtures/tiny-v3', { file: 'golden.safetensors' });
    });
    afterAll(async () => {
      await ckpt?.close();
      await golden?.close();
    });

    it('common/fp8.wgsl decodes all 256 codes bit-exactly, in each byte of a word and one at a time', async () => {
      const table = await golden.readF32('fp8.e4m3fn_table');
      // Word i of rotation r holds codes i, i+64, i+128, i+192 rotated by r: every code in every byte position.
      const words = new Uint32Array(4 * 64);
      for (let r = 0; r < 4; r++) {
        for (let i = 0; i < 64; i++) {
          for (let b = 0; b < 4; b++) words[r * 64 + i] |= (i + 64 * ((b + r) % 4)) << (8 * b);
        }
      }
      const pipelines = new PipelineCache(gpu!.device, { ...SHADER_SOURCES, 'fp8-decode-test': FP8_DECODE_TEST });
      const t = new KernelHarness(gpu!.device, pipelines);
      try {
        const out = t.output(5 * words.length, 'decoded');
        fp8DecodeTest.record(t.rec, { words: t.input(words, 'words'), out }, { n: words.length });
        const got = new Uint32Array((await t.run(out)).buffer);
        const want = new Uint32Array(table.buffer, table.byteOffset, 256);
        for (let w = 0; w < words.length; w++) {
          for (let b = 0; b < 5; b++) {
            const code = (words[w] >>> (8 * (b % 4))) & 0xff; // b = 4: e4m3_to_f32 of the low byte
            if (code === 0x7f || code === 0xff) continue; // NaN codes: never in a checkpoint
            // Bit-exact: -0 for 0x80, every subnormal m/8 * 2^-6 (SwiftShader flushes f32 subnormals).
            expect(got[5 * w + b], `code 0x${code.toString(16)} in byte ${b}`).toBe(want[code]);
          }
        }
      } finally {
        t.destroy();
      }
    });

    it('the matmul exposes every decoded value: a [256, 1] weight of all codes, x = 1, scale 1', async () => {
      const table = await golden.readF32('fp8.e4m3fn_table');
      const codes = Uint8Array.from({ length: 256 }, (_, c) => c);
      const weight = upload(h, 'fp8', codes, 256, 1, new Float32Array([1, 1]));
      const y = h.output(256, 'y');
      recordMatmul(h.rec, weight, h.input(new Float32Array([1]), 'x'), y, 1);
      const got = await h.run(y);
      for (let c = 0; c < 256; c++) {
        if (c === 0x7f || c === 0xff) continue;
        // Exact values; the sum 0 + (-0) is +0, so only the sign of zero is lost.
        expect(got[c], `code 0x${c.toString(16)}`).toBe(table[c] === 0 ? 0 : table[c]);
      }
    });

    it('kv_a_proj_with_mqa (144 rows: a partial 128-block) matches DeepSeek\'s own dequantization', async () => {
      const name = 'model.layers.0.self_attn.kv_a_proj_with_mqa.weight';
      const [out, inDim] = ckpt.info(name).shape;
      const weight = upload(h, 'fp8', await ckpt.read(name), out, inDim, await ckpt.readF32(`${name}_scale_inv`));
      const dense = await golden.readF32(`fp8.dequant.${name}`);
      for (const rows of [1, 5]) {
        const x = randomF32(rows * inDim, rows);
        const y = h.output(rows * out, 'y');
        recordMatmul(h.rec, weight, h.input(x, 'x'), y, rows);
        const { err, diff } = worstRow(await h.run(y), linear(x, rows, inDim, dense, out), rows, out);
        expect(err, diff).toBeLessThanOrEqual(TOL);
      }
    });
  });
});
