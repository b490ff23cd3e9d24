// mla-merge alone vs a float64 log-sum-exp merge of synthetic split partials, including splits a query cannot
// see (m = NEG, l = 0, o = 0, as mla-decode writes them) and split maxima far apart (exp underflow of the small).
import { describe, expect, it } from 'vitest';
import { mlaMerge, mlaMergeParams } from '../src/kernels/mla-merge.ts';
import { MLA_SHAPES } from './helpers/cases.ts';
import { describeDiff, relL2 } from './helpers/compare.ts';
import { getTestGpu } from './helpers/gpu.ts';
import { KernelHarness } from './helpers/harness.ts';
import { randomF32, rng } from './helpers/rand.ts';

// One exp and a weighted sum over <= 64 splits per element, in f32: ~1e-7 relative. 1e-5 leaves 100x; a wrong
// weight (missing exp(m - M) or l) moves the output by O(1).
const TOL = 1e-5;
const NEG = -3.0e38; // mla-decode's "no row seen"

const gpu = await getTestGpu();

const CASES = [
  { name: 'tiny', nq: 2, kvLora: MLA_SHAPES.tiny.kvLora, splits: 1 },
  { name: 'odd', nq: 15, kvLora: MLA_SHAPES.odd.kvLora, splits: 7 },
  { name: 'V3, 2 rows', nq: 2 * MLA_SHAPES.v3.heads, kvLora: MLA_SHAPES.v3.kvLora, splits: 16 },
  { name: 'V2-Lite, many splits', nq: MLA_SHAPES.v2Lite.heads, kvLora: MLA_SHAPES.v2Lite.kvLora, splits: 64 },
];

describe.skipIf(!gpu)('mla-merge', () => {
  for (const c of CASES) {
    it(`${c.name}: ${c.nq} query vectors, kv_lora=${c.kvLora}, ${c.splits} splits`, async () => {
      const r = rng(9);
      const oPart = randomF32(c.nq * c.splits * c.kvLora, 10, 5);
      const ml = new Float32Array(c.nq * c.splits * 2);
      for (let n = 0; n < c.nq; n++) {
        for (let s = 0; s < c.splits; s++) {
          const i = n * c.splits + s;
          // Split 0 is always seen; later ones are empty for ~1/4 of the queries (past their position).
          if (s > 0 && r() < 0.25) {
            ml.set([NEG, 0], 2 * i);
            oPart.fill(0, i * c.kvLora, (i + 1) * c.kvLora);
          } else {
            ml.set([(r() - 0.5) * (s === 1 ? 200 : 20), 1 + 50 * r()], 2 * i);
          }
        }
      }
      const h = new KernelHarness(gpu!.device);
      try {
        const oLat = h.output(c.nq * c.kvLora, 'o_lat');
        mlaMerge.record(h.rec, { o_part: h.input(oPart), ml: h.input(ml), o_lat: oLat }, mlaMergeParams(c.nq, c.kvLora, c.splits));
        const got = await h.run(oLat);

        const want = new Float64Array(c.nq * c.kvLora);
        for (let n = 0; n < c.nq; n++) {
          let m = -Infinity;
          for (let s = 0; s < c.splits; s++) m = Math.max(m, ml[2 * (n * c.splits + s)]);
          let den = 0;
          for (let s = 0; s < c.splits; s++) {
            const i = n * c.splits + s;
            const wgt = Math.exp(ml[2 * i] - m);
            den += wgt * ml[2 * i + 1];
            for (let k = 0; k < c.kvLora; k++) want[n * c.kvLora + k] += wgt * oPart[i * c.kvLora + k];
          }
          for (let k = 0; k < c.kvLora; k++) want[n * c.kvLora + k] /= den;
        }
        const err = relL2(got, want);
        expect(err, `relL2 ${err}\n${describeDiff(got, want, TOL)}`).toBeLessThanOrEqual(TOL);
      } finally {
        h.destroy();
      }
    });
  }
});
