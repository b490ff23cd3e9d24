// kv-append vs the reference: cache[pos + r] = [rmsnorm(c) ; rotatePairs(k_pe, pos + r)] for kv_a rows [c ; k_pe];
// rows outside pos .. pos + rows - 1 are left alone. The k_pe part is also checked on its own at positions up to
// V3's 163840, which is where an f32 angle would be off (shaders/common/rope.wgsl).
import { describe, expect, it } from 'vitest';
import { kvAppend } from '../src/kernels/kv-append.ts';
import { contiguousRowMapData } from '../src/kernels/row-map.ts';
import { rmsnorm } from '../src/reference/rmsnorm.ts';
import { rotatePairs } from '../src/reference/rope-yarn.ts';
import { MLA_QUERY_ROWS, MLA_SHAPES } from './helpers/cases.ts';
import { describeDiff, relL2 } from './helpers/compare.ts';
import { getTestGpu } from './helpers/gpu.ts';
import { KernelHarness } from './helpers/harness.ts';
import { invFreqF32, uploadRowMap } from './helpers/mla.ts';
import { randomF32 } from './helpers/rand.ts';

// The norm is a sum of <= 512 squares and one sqrt (~1e-7 relative); rope angles are accurate to ~1e-6 rad at
// any position (a plain f32 angle is off by 2.4e-4 rad at position 4096 and 1e-2 at 163840). 1e-5 is ~10x above
// that, for the whole row and for k_pe alone; a wrong pair convention or position moves k_pe by O(1).
const TOL = 1e-5;
const EPS = 1e-6;

const gpu = await getTestGpu();

const CASES = [
  { name: 'tiny', kvLora: MLA_SHAPES.tiny.kvLora, rope: MLA_SHAPES.tiny.rope, positions: [0, 3] },
  { name: 'odd', kvLora: MLA_SHAPES.odd.kvLora, rope: MLA_SHAPES.odd.rope, positions: [0, 7, 130], cosSinScale: 0.9 },
  { name: 'V3', kvLora: MLA_SHAPES.v3.kvLora, rope: MLA_SHAPES.v3.rope, positions: [0, 1000, 4095] },
  // Far positions with a narrow c_kv so the cache buffer stays small (the rope part is V3's).
  { name: 'V3 rope, far positions', kvLora: 4, rope: MLA_SHAPES.v3.rope, positions: [65_530, 163_835] },
];

describe.skipIf(!gpu)('kv-append', () => {
  for (const c of CASES) {
    for (const pos of c.positions) {
      for (const rows of MLA_QUERY_ROWS) {
        it(`${c.name}: kv_lora=${c.kvLora} rope=${c.rope}, ${rows} rows at ${pos}`, async () => {
          const latent = c.kvLora + c.rope;
          const cosSinScale = c.cosSinScale ?? 1;
          const kvA = randomF32(rows * latent, pos + rows, 3);
          const normW = Float32Array.from(randomF32(c.kvLora, 8, 0.5), (x) => 1 + x);
          const invFreq = invFreqF32(c.rope);
          const maxSeq = pos + rows + 2;

          const h = new KernelHarness(gpu!.device);
          try {
            const cache = h.output(maxSeq * latent, 'cache'); // NaN: rows not written must stay NaN
            const map = uploadRowMap((d, l) => h.input(d, l), contiguousRowMapData(rows, pos, 1));
            kvAppend.record(
              h.rec,
              { kv_a: h.input(kvA), norm_w: h.input(normW), inv_freq: h.input(Float32Array.from(invFreq)), row_pos: map.pos, row_slot: map.slot, cache },
              { rows, kv_lora: c.kvLora, rope: c.rope, cache_rows: maxSeq, eps: EPS, cos_sin_scale: cosSinScale },
            );
            const got = await h.run(cache);

            const want = new Float64Array(rows * latent);
            for (let r = 0; r < rows; r++) {
              const row = kvA.subarray(r * latent, (r + 1) * latent);
              want.set(rmsnorm(row.subarray(0, c.kvLora), 1, c.kvLora, normW, EPS), r * latent);
              const pe = Float64Array.from(row.subarray(c.kvLora));
              rotatePairs(pe, 0, c.rope, pos + r, invFreq, cosSinScale);
              want.set(pe, r * latent + c.kvLora);
            }
            const written = got.subarray(pos * latent, (pos + rows) * latent);
            const err = relL2(written, want);
            expect(err, `rows relL2 ${err}\n${describeDiff(written, want, TOL)}`).toBeLessThanOrEqual(TOL);
            for (let r = 0; r < rows; r++) {
              const gotPe = written.subarray(r * latent + c.kvLora, (r + 1) * latent);
              const wantPe = want.subarray(r * latent + c.kvLora, (r + 1) * latent);
              const errPe = relL2(gotPe, wantPe);
              expect(errPe, `k_pe of row ${r} (position ${pos + r}) relL2 ${errPe}\n${describeDiff(gotPe, wantPe, TOL)}`).toBeLessThanOrEqual(TOL);
            }
            // Every other cache row is untouched (still the NaN poison), checked at the edges around the write.
            const outside = [...got.subarray(Math.max(0, pos - 1) * latent, pos * latent), ...got.subarray((pos + rows) * latent)];
            expect(outside.every(Number.isNaN), 'rows outside pos .. pos + rows - 1 were written').toBe(true);
          } finally {
            h.destroy();
          }
        });
      }
    }
  }
});
