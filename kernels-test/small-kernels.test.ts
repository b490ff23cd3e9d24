// Elementwise kernels and the embedding lookup against the CPU reference.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordEmbed } from '../src/kernels/embed.ts';
import { residualAdd } from '../src/kernels/residual-add.ts';
import { rmsnorm } from '../src/kernels/rmsnorm.ts';
import { swiglu } from '../src/kernels/swiglu.ts';
import { embed as embedRef } from '../src/reference/embed.ts';
import { rmsnorm as rmsnormRef } from '../src/reference/rmsnorm.ts';
import { swiglu as swigluRef } from '../src/reference/swiglu.ts';
import { describeDiff, relL2 } from './helpers/compare.ts';
import { getTestGpu } from './helpers/gpu.ts';
import { KernelHarness } from './helpers/harness.ts';
import { randomF32, rng } from './helpers/rand.ts';

const gpu = await getTestGpu();

describe.skipIf(!gpu)('small kernels', () => {
  let h: KernelHarness;
  beforeAll(() => void (h = new KernelHarness(gpu!.device)));
  afterAll(() => h.destroy());

  // f32 arithmetic over at most a few thousand terms (rmsnorm's sum of squares): rounding ~1e-7, so 1e-5
  // leaves room while any indexing mistake lands far above it.
  const TOL = 1e-5;

  it.each([
    [1, 7],
    [3, 256],
    [2, 1001],
    [4, 7168],
  ])('rmsnorm %i x %i', async (rows, dim) => {
    const x = randomF32(rows * dim, rows * dim, 3);
    const w = randomF32(dim, dim + 1);
    const out = h.output(rows * dim);
    rmsnorm.record(h.rec, { x: h.input(x), weight: h.input(w), out }, { rows, dim, eps: 1e-6 });
    const got = await h.run(out);
    const want = rmsnormRef(x, rows, dim, w, 1e-6);
    expect(relL2(got, want), describeDiff(got, want)).toBeLessThanOrEqual(TOL);
  });

  it("refuses a caller's launch shape: only the launch profile sets it", () => {
    const x = h.input(new Float32Array(8));
    // The type forbids it; a cast (or plain JS) must still not get past record().
    const launchShape = { WG_SIZE: 8 } as unknown as Record<never, number>;
    expect(() => rmsnorm.record(h.rec, { x, weight: x, out: x }, { rows: 1, dim: 8, eps: 1e-6 }, launchShape)).toThrow(
      new RegExp(`kernel 'rmsnorm': WG_SIZE is a launch constant, set by the launch profile \\('${h.rec.profile.name}'\\)`),
    );
  });

  it.each([5, 1408 * 3, 2048 * 7])('swiglu over %i values', async (n) => {
    const gate = randomF32(n, n, 12); // |g| up to 12: both silu tails
    const up = randomF32(n, n + 1);
    const out = h.output(n);
    swiglu.record(h.rec, { gate: h.input(gate), up: h.input(up), out }, { n });
    const got = await h.run(out);
    const want = swigluRef(gate, up);
    expect(relL2(got, want), describeDiff(got, want)).toBeLessThanOrEqual(TOL);
  });

  it.each([1, 1000, 70000])('residual-add over %i values is exact', async (n) => {
    const hv = randomF32(n, n);
    const d = randomF32(n, n + 7);
    const buf = h.input(hv);
    residualAdd.record(h.rec, { delta: h.input(d), h: buf }, { n });
    const got = await h.run(buf);
    const want = Float32Array.from(hv, (v, i) => v + d[i]); // one f32 add: bit-exact
    expect(Array.from(got)).toEqual(Array.from(want));
  });

  it.each([
    ['F32', [10]],
    ['BF16', [10]],
    ['BF16', [3, 4, 6]], // a table split over three buffers, as V3's 1.85 GB embedding is
  ] as const)('embed from a %s table in parts %j is exact', async (dtype, partRows) => {
    const hidden = 6;
    const vocab = partRows.reduce((a, b) => a + b, 0);
    const r = rng(5);
    const table = randomF32(vocab * hidden, 9);
    if (dtype === 'BF16') for (let i = 0; i < table.length; i++) table[i] = bf16Round(table[i]);
    const tokens = Uint32Array.from({ length: 9 }, () => Math.floor(r() * vocab));
    tokens[0] = vocab - 1;
    tokens[1] = 0;
    let first = 0;
    const parts = partRows.map((rows) => {
      const slice = table.subarray(first * hidden, (first + rows) * hidden);
      const data = dtype === 'BF16' ? toBf16(slice) : slice;
      const part = { table: h.input(data), firstRow: first, rows };
      first += rows;
      return part;
    });
    const out = h.output(tokens.length * hidden);
    recordEmbed(h.rec, dtype, parts, h.input(tokens), out, { rows: tokens.length, hidden, vocab });
    const got = await h.run(out);
    const want = embedRef({ data: table, rows: vocab, cols: hidden }, Array.from(tokens));
    expect(Array.from(got)).toEqual(Array.from(want));
  });
});

function bf16Round(x: number): number {
  const u = new Uint32Array(Float32Array.of(x).buffer)[0] & 0xffff0000;
  return new Float32Array(Uint32Array.of(u).buffer)[0];
}

function toBf16(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(Float32Array.from(values).buffer);
  return Uint16Array.from(bits, (b) => b >>> 16);
}
