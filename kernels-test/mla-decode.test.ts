// mla-decode (one split of causal latent attention per workgroup) and mla-merge, vs the reference's
// latentAttention; the decode partials alone vs a per-split CPU oracle. Several query rows with causal masking,
// odd sequence lengths, one split, several, and more splits than cache rows (empty splits); with one split also the
// normalized output that replaces the merge.
import { describe, expect, it } from 'vitest';
import { mlaDecode, mlaDecodeParams, mlaDecodeScratch, mlaSplitPlan, mlaSplitQueries, type MlaSplitPlan } from '../src/kernels/mla-decode.ts';
import { mlaMerge, mlaMergeParams } from '../src/kernels/mla-merge.ts';
import { contiguousRowMapData, rowMapData, type SegmentRows } from '../src/kernels/row-map.ts';
import { latentAttention } from '../src/reference/mla-absorbed.ts';
import { MLA_QUERY_ROWS, MLA_SEQ_LENGTHS, MLA_SHAPES, type MlaShape } from './helpers/cases.ts';
import { describeDiff, relL2 } from './helpers/compare.ts';
import { getTestGpu } from './helpers/gpu.ts';
import { KernelHarness } from './helpers/harness.ts';
import { mlaDims, uploadRowMap } from './helpers/mla.ts';
import { randomF32 } from './helpers/rand.ts';

// f32 dot products over kv_lora + rope (<= 576) terms and f32 softmax sums over <= a few thousand rows: the
// float32 noise is ~1e-6 relative (the same as model.py's own f32 run against float64, docs/conventions.md
// "Tolerances seen"). 1e-5 is 10x above it; a masking, split-boundary or merge mistake moves o_lat by >= 1e-2.
const TOL = 1e-5;
const SCALE = 0.1875; // softmax_scale (V3's is 0.135): with these inputs scores spread over ~±5, peaked and flat rows alike

const gpu = await getTestGpu();

interface Case {
  name: string;
  shape: MlaShape;
  rows: number;
  kvLen: number; // = first_pos + rows
  splits: number | 'plan';
  /** Force the grid to wrap into y (as past 65535 workgroups) at this width. */
  groupsX?: number;
}

const CASES: Case[] = [
  ...MLA_SEQ_LENGTHS.flatMap((kvLen) =>
    MLA_QUERY_ROWS.filter((rows) => rows <= kvLen).flatMap((rows) =>
      [1, 3, kvLen + 3].map((splits) => ({ name: 'odd', shape: MLA_SHAPES.odd, rows, kvLen, splits })),
    ),
  ),
  { name: 'tiny', shape: MLA_SHAPES.tiny, rows: 1, kvLen: 5, splits: 2 },
  // Across the 256-row score tile: one split of 3 tiles (online softmax), splits that end mid-tile.
  { name: 'odd, tile edges', shape: MLA_SHAPES.odd, rows: 2, kvLen: 513, splits: 1 },
  { name: 'odd, tile edges, wrapped grid', shape: MLA_SHAPES.odd, rows: 5, kvLen: 600, splits: 7, groupsX: 3 },
  // Real: kv_lora 512, rope 64 at >= 1024 rows (heads trimmed where several rows make it slow on the CPU).
  { name: 'V3', shape: MLA_SHAPES.v3, rows: 1, kvLen: 1024, splits: 'plan' },
  { name: 'V3 (8 of 128 heads)', shape: { ...MLA_SHAPES.v3, heads: 8 }, rows: 2, kvLen: 1031, splits: 1 },
  { name: 'V3 (8 of 128 heads)', shape: { ...MLA_SHAPES.v3, heads: 8 }, rows: 5, kvLen: 1500, splits: 'plan' },
  { name: 'V2-Lite', shape: MLA_SHAPES.v2Lite, rows: 1, kvLen: 4096, splits: 'plan' },
];

/** Per-split partials on the CPU: the oracle for mla-decode alone. Returns [nq, splits] m, l and o [.., kvLora]. */
function splitOracle(qAbs: Float32Array, cache: Float32Array, shape: MlaShape, rows: number, kvLen: number, plan: MlaSplitPlan) {
  const { heads, kvLora, rope } = shape;
  const L = kvLora + rope;
  const nq = rows * heads;
  const m = new Float64Array(nq * plan.splits).fill(-Infinity);
  const l = new Float64Array(nq * plan.splits);
  const o = new Float64Array(nq * plan.splits * kvLora);
  for (let n = 0; n < nq; n++) {
    const pos = kvLen - rows + Math.floor(n / heads);
    for (let s = 0; s < plan.splits; s++) {
      const end = Math.min((s + 1) * plan.chunk, pos + 1);
      const scores: number[] = [];
      for (let t = s * plan.chunk; t < end; t++) {
        let dot = 0;
        for (let c = 0; c < L; c++) dot += qAbs[n * L + c] * cache[t * L + c];
        scores.push(dot * SCALE);
      }
      const at = n * plan.splits + s;
      m[at] = Math.max(-Infinity, ...scores);
      scores.forEach((sc, i) => {
        const p = Math.exp(sc - m[at]);
        l[at] += p;
        for (let c = 0; c < kvLora; c++) o[at * kvLora + c] += p * cache[(s * plan.chunk + i) * L + c];
      });
    }
  }
  return { m, l, o };
}

describe.skipIf(!gpu)('mla-decode + mla-merge', () => {
  for (const c of CASES) {
    const { heads: H, kvLora, rope } = c.shape;
    const L = kvLora + rope;
    const nq = c.rows * H;
    const plan: MlaSplitPlan = c.splits === 'plan' ? mlaSplitPlan(c.kvLen, nq) : { splits: c.splits, chunk: Math.ceil(c.kvLen / c.splits) };
    it(`${c.name}: H=${H} kv_lora=${kvLora} rope=${rope}, ${c.rows} rows over ${c.kvLen} cache rows, ${plan.splits} splits of ${plan.chunk}`, async () => {
      const d = mlaDims(c.shape);
      const firstPos = c.kvLen - c.rows;
      const qAbs = randomF32(nq * L, 3);
      const cache = randomF32((c.kvLen + 2) * L, 4); // 2 rows past the end: must not be seen

      const h = new KernelHarness(gpu!.device);
      try {
        const scratch = mlaDecodeScratch(d, c.rows, plan.splits);
        const oPart = h.output(scratch.oPart, 'o_part');
        const ml = h.output(scratch.ml, 'ml');
        const oLat = h.output(nq * kvLora, 'o_lat');
        const map = uploadRowMap((data, l) => h.input(data, l), contiguousRowMapData(c.rows, firstPos, H));
        const pages = { segments: map.segments, pages: map.pages };
        mlaDecode.record(h.rec, { q_abs: h.input(qAbs), cache: h.input(cache), o_part: oPart, ml, ...pages }, { ...mlaDecodeParams(d, map, SCALE, plan), ...(c.groupsX && { groups_x: c.groupsX }) });
        mlaMerge.record(h.rec, { o_part: oPart, ml, o_lat: oLat }, { ...mlaMergeParams(nq, kvLora, plan.splits), ...(c.groupsX && { groups_x: c.groupsX }) });
        const got = await h.run(oLat);

        // The merged output against the reference (q_abs split back into q_lat and q_pe; nope 0 so q is q_pe).
        const qLat = new Float64Array(nq * kvLora);
        const qPe = new Float64Array(nq * rope);
        for (let n = 0; n < nq; n++) {
          qLat.set(qAbs.subarray(n * L, n * L + kvLora), n * kvLora);
          qPe.set(qAbs.subarray(n * L + kvLora, (n + 1) * L), n * rope);
        }
        const rowsOf = (from: number) => Array.from({ length: c.kvLen }, (_, t) => cache.subarray(t * L + from, t * L + (from ? L : kvLora)));
        const positions = Array.from({ length: c.rows }, (_, r) => firstPos + r);
        const want = latentAttention(qLat, qPe, c.rows, positions, rowsOf(0), rowsOf(kvLora), { ...d, qkNopeHeadDim: 0 }, SCALE);
        const err = relL2(got, want);
        expect(err, `o_lat relL2 ${err}\n${describeDiff(got, want, TOL)}`).toBeLessThanOrEqual(TOL);

        if (plan.splits === 1) {
          // normalize (one split, no merge): o_lat straight from the decode kernel, the same division as the
          // merge's (o / (1 * l)), so bit-equal to the merged output.
          const direct = h.output(nq * kvLora, 'o_lat direct');
          mlaDecode.record(h.rec, { q_abs: h.input(qAbs), cache: h.input(cache), o_part: direct, ml: h.output(scratch.ml, 'ml'), ...pages }, { ...mlaDecodeParams(d, map, SCALE, plan, true), ...(c.groupsX && { groups_x: c.groupsX }) });
          const gotDirect = await h.run(direct);
          expect(Array.from(gotDirect), describeDiff(gotDirect, got, 0)).toEqual(Array.from(got));
        }

        // The partials alone (skipped for the big cases: the oracle is slow and the merged check covers them).
        if (nq * c.kvLen > 50_000) return;
        const oracle = splitOracle(qAbs, cache, c.shape, c.rows, c.kvLen, plan);
        const gotO = new Float32Array(await h.run(oPart));
        const gotMl = new Float32Array(await h.run(ml));
        const errO = relL2(gotO, oracle.o);
        expect(errO, `o_part relL2 ${errO}\n${describeDiff(gotO, oracle.o, TOL)}`).toBeLessThanOrEqual(TOL);
        for (let i = 0; i < nq * plan.splits; i++) {
          const [m, l] = [gotMl[2 * i], gotMl[2 * i + 1]];
          if (oracle.m[i] === -Infinity) {
            // An empty split: weight exactly 0 and a max that no real score reaches.
            expect({ i, l, mBelow: m <= -1e38 }).toEqual({ i, l: 0, mBelow: true });
          } else {
            // m is one f32 score (~1e-6 abs); l a sum of exps relative to m (f32 noise ~1e-6 relative).
            expect(Math.abs(m - oracle.m[i]), `m[${i}]`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(oracle.m[i])));
            expect(Math.abs(l - oracle.l[i]), `l[${i}]`).toBeLessThanOrEqual(1e-5 * oracle.l[i]);
          }
        }
      } finally {
        h.destroy();
      }
    });
  }
});

// Several sequences in one dispatch over a paged pool: each segment attends over its own pages only (scrambled
// across the pool, page size 4 dividing no length), with its own length; 3 heads, so a 4-vector block would
// straddle two rows if blocks were not per segment.
describe.skipIf(!gpu)('mla-decode over pages, several sequences', () => {
  const shape = MLA_SHAPES.odd;
  const PAGE = 4;
  const SEGS = [
    { rows: 1, firstPos: 0 },
    { rows: 2, firstPos: 9 },
    { rows: 1, firstPos: 37 },
    { rows: 5, firstPos: 3 },
  ];
  for (const [splits, groupsX] of [[1, 0], [3, 0], [5, 2]]) {
    it(`${SEGS.length} sequences of ${SEGS.map((g) => g.firstPos + g.rows).join(', ')} rows, ${splits} splits${groupsX ? ', wrapped grid' : ''}`, async () => {
      const { heads: H, kvLora, rope } = shape;
      const L = kvLora + rope;
      const d = mlaDims(shape);
      // Page tables: each sequence's pages drawn from a shuffled pool, its table row 16 entries apart.
      const need = SEGS.map((g) => Math.ceil((g.firstPos + g.rows) / PAGE));
      const poolPages = need.reduce((a, b) => a + b, 0) + 3;
      const order = Array.from({ length: poolPages }, (_, i) => i).sort((a, b) => ((a * 7919) % 13) - ((b * 7919) % 13) || a - b);
      const table = new Uint32Array(SEGS.length * 16);
      let next = 0;
      const segs: SegmentRows[] = SEGS.map((g, i) => {
        for (let p = 0; p < need[i]; p++) table[i * 16 + p] = order[next++];
        return { ...g, tableAt: i * 16 };
      });
      const data = rowMapData(segs, H, (e) => table[e], PAGE);
      const nq = data.rows * H;
      const plan = { splits, chunk: Math.ceil(data.kvLen / splits) };
      const qAbs = randomF32(nq * L, 5);
      const pool = randomF32(poolPages * PAGE * L, 6);

      const h = new KernelHarness(gpu!.device);
      try {
        const map = uploadRowMap((x, l) => h.input(x, l), { ...data, pages: table, pageSize: PAGE });
        const scratch = mlaDecodeScratch(d, data.rows, splits);
        const oPart = h.output(splits === 1 ? nq * kvLora : scratch.oPart, 'o_part');
        const ml = h.output(scratch.ml, 'ml');
        const wrap = groupsX ? { groups_x: groupsX } : {};
        mlaDecode.record(h.rec, { q_abs: h.input(qAbs), cache: h.input(pool), o_part: oPart, ml, segments: map.segments, pages: map.pages }, { ...mlaDecodeParams(d, map, SCALE, plan, splits === 1), ...wrap });
        let out = oPart;
        if (splits > 1) {
          out = h.output(nq * kvLora, 'o_lat');
          mlaMerge.record(h.rec, { o_part: oPart, ml, o_lat: out }, { ...mlaMergeParams(nq, kvLora, splits), ...wrap });
        }
        const got = await h.run(out);

        let row = 0;
        for (const [i, g] of segs.entries()) {
          const at = (t: number) => (table[g.tableAt + Math.floor(t / PAGE)] * PAGE + (t % PAGE)) * L;
          const kv = g.firstPos + g.rows;
          const cKv = Array.from({ length: kv }, (_, t) => pool.subarray(at(t), at(t) + kvLora));
          const kPe = Array.from({ length: kv }, (_, t) => pool.subarray(at(t) + kvLora, at(t) + L));
          const qLat = new Float64Array(g.rows * H * kvLora);
          const qPe = new Float64Array(g.rows * H * rope);
          for (let n = 0; n < g.rows * H; n++) {
            const src = (row * H + n) * L;
            qLat.set(qAbs.subarray(src, src + kvLora), n * kvLora);
            qPe.set(qAbs.subarray(src + kvLora, src + L), n * rope);
          }
          const positions = Array.from({ length: g.rows }, (_, r) => g.firstPos + r);
          const want = latentAttention(qLat, qPe, g.rows, positions, cKv, kPe, { ...d, qkNopeHeadDim: 0 }, SCALE);
          const part = got.subarray(row * H * kvLora, (row + g.rows) * H * kvLora);
          const err = relL2(part, want);
          expect(err, `sequence ${i}: relL2 ${err}\n${describeDiff(part, want, TOL)}`).toBeLessThanOrEqual(TOL);
          row += g.rows;
        }
      } finally {
        h.destroy();
      }
    });
  }
});

describe('attention split scratch (CPU)', () => {
  // Activations sizes the split scratch with mlaSplitQueries; every plan forward.ts can make must fit it.
  it.each([
    [128, 64, 128],
    [128, 64, 2],
    [16, 64, 128],
    [3, 7, 256],
    [1, 1, 5],
  ])('heads %i, up to %i rows, target %i workgroups: every plan fits, far below rows x heads x 64', (heads, rows, target) => {
    const most = mlaSplitQueries(heads, rows, target);
    for (let r = 1; r <= rows; r++) {
      for (const kvLen of [1, 255, 257, 4096, 163840]) {
        expect(r * heads * mlaSplitPlan(kvLen, r * heads, target).splits, `${r} rows over ${kvLen}`).toBeLessThanOrEqual(most);
      }
    }
    expect(most).toBeLessThanOrEqual(Math.max(rows * heads, 4 * target + 4 * 64));
  });
});
