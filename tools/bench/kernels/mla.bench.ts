// MLA attention decode (1 query row) at V3 (128 heads, kv_b_proj FP8 + 128x128 block scales) and V2-Lite (16 heads,
// kv_b_proj BF16) over CONTEXT_LENGTHS of latent cache. Records:
//   mla-decode        = mla-absorb-q + mla-decode + mla-merge + mla-absorb-v, one step of one layer
//                       bytes = latent cache read (ctx x (kv_lora + rope) x 4) + kv_b_proj read once (W_UK by
//                       absorb-q, W_UV by absorb-v; FP8: 1 byte + scales, BF16: 2) + q in + o out; the split
//                       partials (o_part, ml) are internal traffic and not counted
//   mla-absorb-q      bytes = W_UK half of kv_b_proj (+ its scales) + q in + q_abs out
//   mla-decode-split  bytes = cache read + q_abs in + o_part and ml out
//   mla-merge         bytes = o_part and ml in + o_lat out
//   mla-absorb-v      bytes = W_UV half of kv_b_proj (+ its scales) + o_lat in + o out
//   kv-append         bytes = kv_a row in + cache row out (context-independent; once per model)
// flops: absorb-q 2·H·nope·kv_lora, decode 2·H·ctx·(kv_lora + rope + kv_lora), absorb-v 2·H·v·kv_lora.
// Buffers are zeros: no kernel here has a data-dependent cost.
import { createStorage } from '../../../src/gpu/buffers.ts';
import type { Recorder } from '../../../src/gpu/recorder.ts';
import { kvAppend } from '../../../src/kernels/kv-append.ts';
import { mlaAbsorbQ, mlaAbsorbQParams } from '../../../src/kernels/mla-absorb-q.ts';
import { mlaAbsorbV, mlaAbsorbVParams } from '../../../src/kernels/mla-absorb-v.ts';
import { mlaDecode, mlaDecodeParams, mlaDecodeScratch, mlaSplitPlan } from '../../../src/kernels/mla-decode.ts';
import { contiguousRowMapData } from '../../../src/kernels/row-map.ts';
import { uploadStorage } from '../../../src/gpu/buffers.ts';
import { uploadRowMap } from '../../../kernels-test/helpers/mla.ts';
import { kvBWeightBytes, type KvBDtype } from '../../../src/kernels/mla-kv-b.ts';
import { mlaMerge, mlaMergeParams } from '../../../src/kernels/mla-merge.ts';
import { CONTEXT_LENGTHS, MLA_SHAPES, type MlaShape } from '../../../kernels-test/helpers/cases.ts';
import { mlaDims } from '../../../kernels-test/helpers/mla.ts';
import type { KernelBench } from '../kernel-bench.ts';

const MODELS: { model: 'v3' | 'v2-lite'; shape: MlaShape; dtype: KvBDtype }[] = [
  { model: 'v3', shape: MLA_SHAPES.v3, dtype: 'F8_E4M3' },
  { model: 'v2-lite', shape: MLA_SHAPES.v2Lite, dtype: 'BF16' },
];
const SCALE = 0.25;
// Split plan for this backend: ~16 workgroups per SwiftShader core is plenty (V3's 128 heads already make 32
// query blocks, so one split; V2-Lite's 4 blocks split 4 to 8 ways). A real GPU wants mlaSplitPlan's default 128+.
const TARGET_WORKGROUPS = 32;
type Part = 'all' | 'absorb-q' | 'decode' | 'merge' | 'absorb-v';

function bench(model: 'v3' | 'v2-lite', s: MlaShape, dtype: KvBDtype, ctx: number, part: Part): KernelBench {
  const d = mlaDims(s);
  const H = s.heads;
  const latent = s.kvLora + s.rope;
  const plan = mlaSplitPlan(ctx, H, TARGET_WORKGROUPS);
  const half = (rows: number) => kvBWeightBytes(dtype, rows, s.kvLora) + (dtype === 'F8_E4M3' ? Math.ceil(rows / 128) * Math.ceil(s.kvLora / 128) * 4 : 0);
  const wUk = half(H * s.nope); // (head blocks are 256 rows, so each half's scale rows are exact)
  const wUv = half(H * s.vHead);
  const q = H * (s.nope + s.rope) * 4;
  const qAbs = H * latent * 4;
  const parts = H * plan.splits * (s.kvLora + 2) * 4;
  const oLat = H * s.kvLora * 4;
  const o = H * s.vHead * 4;
  const cache = ctx * latent * 4;
  const fq = 2 * H * s.nope * s.kvLora;
  const fd = 2 * H * ctx * (latent + s.kvLora);
  const fv = 2 * H * s.vHead * s.kvLora;
  const figures: Record<Part, [string, number, number]> = {
    all: ['mla-decode', cache + wUk + wUv + q + o, fq + fd + fv],
    'absorb-q': ['mla-absorb-q', wUk + q + qAbs, fq],
    decode: ['mla-decode-split', cache + qAbs + parts, fd],
    merge: ['mla-merge', parts + oLat, 0],
    'absorb-v': ['mla-absorb-v', wUv + oLat + o, fv],
  };
  const [kernel, bytes, flops] = figures[part];
  const perContext = part === 'all' || part === 'decode' || part === 'merge';
  return {
    kernel,
    model,
    shape: `1 row · ${H} heads${perContext ? ` · ctx ${ctx} · ${plan.splits} splits` : ''} · kv_b ${dtype}`,
    bytes,
    flops,
    inner: part === 'merge' || part === 'absorb-q' || part === 'absorb-v' ? 4 : 1,
    setup(gpu, rec: Recorder) {
      const bufs: GPUBuffer[] = [];
      const make = (bytes: number, label: string) => (bufs.push(createStorage(gpu.device, bytes, label)), bufs.at(-1)!);
      const w = make(kvBWeightBytes(dtype, H * (s.nope + s.vHead), s.kvLora), 'kv_b_proj');
      const wScale = dtype === 'F8_E4M3' ? make(Math.ceil((H * (s.nope + s.vHead)) / 128) * Math.ceil(s.kvLora / 128) * 4, 'scale') : w;
      const scratch = mlaDecodeScratch(d, 1, plan.splits);
      const b = {
        q: make(q, 'q'), invFreq: make((s.rope / 2) * 4, 'inv_freq'), qAbs: make(qAbs, 'q_abs'), cache: make(cache, 'cache'),
        oPart: make(scratch.oPart * 4, 'o_part'), ml: make(scratch.ml * 4, 'ml'), oLat: make(oLat, 'o_lat'), o: make(o, 'o'),
      };
      const pos = ctx - 1;
      const map = uploadRowMap((data, label) => (bufs.push(uploadStorage(gpu.device, data, label)), bufs.at(-1)!), contiguousRowMapData(1, pos, H));
      const record = () => {
        if (part === 'all' || part === 'absorb-q') {
          mlaAbsorbQ[dtype].record(rec, { q: b.q, inv_freq: b.invFreq, w, w_scale: wScale, q_abs: b.qAbs, row_pos: map.pos }, mlaAbsorbQParams(d, 1, 1));
        }
        if (part === 'all' || part === 'decode') {
          mlaDecode.record(rec, { q_abs: b.qAbs, cache: b.cache, o_part: b.oPart, ml: b.ml, segments: map.segments, pages: map.pages }, mlaDecodeParams(d, map, SCALE, plan));
        }
        if (part === 'all' || part === 'merge') {
          mlaMerge.record(rec, { o_part: b.oPart, ml: b.ml, o_lat: b.oLat }, mlaMergeParams(H, s.kvLora, plan.splits));
        }
        if (part === 'all' || part === 'absorb-v') {
          mlaAbsorbV[dtype].record(rec, { o_lat: b.oLat, w, w_scale: wScale, o: b.o }, mlaAbsorbVParams(d, 1));
        }
      };
      return { record, destroy: () => bufs.forEach((x) => x.destroy()) };
    },
  };
}

function appendBench(model: 'v3' | 'v2-lite', s: MlaShape): KernelBench {
  const latent = s.kvLora + s.rope;
  return {
    kernel: 'kv-append',
    model,
    shape: `1 row · kv_lora ${s.kvLora} + rope ${s.rope}`,
    bytes: 2 * latent * 4 + s.kvLora * 4,
    flops: 0,
    inner: 20,
    setup(gpu, rec) {
      const bufs = [latent * 4, s.kvLora * 4, (s.rope / 2) * 4, 4096 * latent * 4].map((n) => createStorage(gpu.device, n, 'kv-append'));
      const [kvA, normW, invFreq, cache] = bufs;
      const map = uploadRowMap((data, label) => (bufs.push(uploadStorage(gpu.device, data, label)), bufs.at(-1)!), contiguousRowMapData(1, 4095, s.heads));
      const p = { rows: 1, kv_lora: s.kvLora, rope: s.rope, cache_rows: 4096, eps: 1e-6, cos_sin_scale: 1 };
      return {
        record: () => kvAppend.record(rec, { kv_a: kvA, norm_w: normW, inv_freq: invFreq, row_pos: map.pos, row_slot: map.slot, cache }, p),
        destroy: () => bufs.forEach((x) => x.destroy()),
      };
    },
  };
}

// absorb-q, absorb-v and kv-append do not depend on the context: one record per model.
export const benches: KernelBench[] = MODELS.flatMap(({ model, shape, dtype }) => [
  ...CONTEXT_LENGTHS.flatMap((ctx) => (['all', 'decode', 'merge'] as const).map((part) => bench(model, shape, dtype, ctx, part))),
  bench(model, shape, dtype, 1, 'absorb-q'),
  bench(model, shape, dtype, 1, 'absorb-v'),
  appendBench(model, shape),
]);
