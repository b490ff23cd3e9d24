// MoE routing and experts at the real V3 / V2-Lite layer shapes.
// moe-route: bytes = logits read (rows x experts x 4) + indices and weights written (rows x top_k x 8).
// moe-experts-decode: bytes = the weights (FP8 + f32 block scales, q4 + f32 group scales, or BF16) of the experts actually read
// (top-k routed and the shared expert, gate + up + down), + activations (small). Only 16 routed experts are allocated (a
// V3 layer's 256 would take 11 GB); the routes pick top_k distinct ones among them, which reads exactly as
// much as routing among 256 does. Weights are zeros: the exact FP8 decode has no data-dependent cost.
import { createStorage, uploadStorage } from '../../../src/gpu/buffers.ts';
import type { Gpu } from '../../../src/gpu/device.ts';
import { moeGroupBytes, recordMoeExperts, type ExpertFormat, type ExpertPart, type ExpertWeights } from '../../../src/kernels/moe-experts.ts';
import { recordMoeRoute } from '../../../src/kernels/moe-route.ts';
import { MOE_ROUTE_CASES, V2_LITE, V3, type ModelShapes } from '../../../kernels-test/helpers/cases.ts';
import type { RoutingConfig } from '../../../src/reference/moe-route.ts';
import type { KernelBench } from '../kernel-bench.ts';
import { expertScaleBytes, expertWeightBytes } from '../../../src/kernels/moe-weights.ts';

const ALLOCATED = 16;
const Q4_BENCH_GROUP = 32;
/** Bytes of one expert's [out, in] weights and scales. */
const expertBytes1 = (format: ExpertFormat, out: number, inDim: number) => expertWeightBytes(format, 1, out, inDim) + expertScaleBytes(format, 1, out, inDim, Q4_BENCH_GROUP);

function routeBench(model: 'v3' | 'v2-lite', cfg: RoutingConfig, rows: number): KernelBench {
  const n = cfg.nRoutedExperts;
  const k = cfg.numExpertsPerTok;
  return {
    kernel: 'moe-route',
    model,
    shape: `${rows} rows · top-${k} of ${n} ${cfg.topkMethod}`,
    bytes: rows * n * 4 + rows * k * 8,
    flops: 0,
    inner: rows === 1 ? 20 : 1,
    setup(gpu, rec) {
      const logits = uploadStorage(gpu.device, new Float32Array(rows * n).map((_, i) => Math.sin(i * 0.37)), 'logits');
      const bias = createStorage(gpu.device, n * 4, 'bias');
      const experts = createStorage(gpu.device, rows * k * 4, 'experts');
      const weights = createStorage(gpu.device, rows * k * 4, 'weights');
      const b = { logits, bias: cfg.topkMethod === 'noaux_tc' ? bias : undefined, experts, weights };
      return {
        record: () => recordMoeRoute(rec, cfg, b, rows),
        destroy: () => [logits, bias, experts, weights].forEach((x) => x.destroy()),
      };
    },
  };
}

function projection(gpu: Gpu, format: ExpertFormat, count: number, out: number, inDim: number, buffers: GPUBuffer[]): ExpertPart[] {
  const weight = createStorage(gpu.device, expertWeightBytes(format, count, out, inDim), `${format} experts`);
  buffers.push(weight);
  if (format !== 'fp8' && format !== 'q4') return [{ firstExpert: 0, count, weight }];
  const scale = createStorage(gpu.device, expertScaleBytes(format, count, out, inDim, Q4_BENCH_GROUP), 'scales');
  buffers.push(scale);
  return [{ firstExpert: 0, count, weight, scale }];
}

// Each row takes top_k distinct experts; rows differ (the worst case for a decode batch).
const routes = (rows: number, topK: number) => Uint32Array.from({ length: rows * topK }, (_, i) => (i * 5 + Math.floor(i / topK)) % ALLOCATED);

/**
 * Decode (each pair reads its expert) or prefill (grouped: each tile of <= 4 pairs sharing an expert reads
 * it once; the shared expert once per 4 rows). bytes = the weights (and FP8 scales) those reads cover.
 */
function expertsBench(s: ModelShapes, rows: number, grouped: boolean, format: ExpertFormat = 'fp8'): KernelBench {
  const { hidden, moeIntermediate: inter, topK } = s;
  const sharedInter = s.sharedExperts * inter;
  // Per expert of width w: gate + up + down = 3 w hidden weights and (FP8) their scales.
  const expertBytes = (w: number) => 2 * expertBytes1(format, w, hidden) + expertBytes1(format, hidden, w);
  const perExpert = new Array<number>(ALLOCATED).fill(0);
  for (const e of routes(rows, topK)) perExpert[e]++;
  const tiles = perExpert.reduce((n, c) => n + Math.ceil(c / 4), 0);
  const read = grouped
    ? tiles * expertBytes(inter) + Math.ceil(rows / 4) * expertBytes(sharedInter)
    : rows * topK * expertBytes(inter) + (rows > 1 ? Math.ceil(rows / 4) : 1) * expertBytes(sharedInter);
  return {
    kernel: grouped ? 'moe-experts-prefill' : 'moe-experts-decode',
    model: s.model,
    shape: `${rows}x${hidden} · top-${topK} of ${ALLOCATED} allocated (of ${s.experts}) · ${inter}x${hidden} + shared ${sharedInter} · ${format}`,
    bytes: read + rows * hidden * 8,
    flops: 2 * 3 * hidden * (rows * topK * inter + rows * sharedInter),
    setup(gpu, rec) {
      const bufs: GPUBuffer[] = [];
      const group = format === 'q4' ? { group: Q4_BENCH_GROUP } : {};
      const routed: ExpertWeights = {
        format,
        ...group,
        gate: projection(gpu, format, ALLOCATED, inter, hidden, bufs),
        up: projection(gpu, format, ALLOCATED, inter, hidden, bufs),
        down: projection(gpu, format, ALLOCATED, hidden, inter, bufs),
      };
      const shared: ExpertWeights = {
        format,
        ...group,
        gate: projection(gpu, format, 1, sharedInter, hidden, bufs),
        up: projection(gpu, format, 1, sharedInter, hidden, bufs),
        down: projection(gpu, format, 1, hidden, sharedInter, bufs),
      };
      const idx = routes(rows, topK);
      const make = (bytes: number, label: string) => (bufs.push(createStorage(gpu.device, bytes, label)), bufs.at(-1)!);
      const experts = uploadStorage(gpu.device, idx, 'experts');
      bufs.push(experts);
      const b = {
        x: make(rows * hidden * 4, 'x'),
        experts,
        weights: make(rows * topK * 4, 'weights'),
        out: make(rows * hidden * 4, 'out'),
        h: make(rows * topK * inter * 4, 'h'),
        y: make(rows * topK * hidden * 4, 'y'),
        hShared: make(rows * sharedInter * 4, 'h shared'),
        group: grouped ? make(moeGroupBytes(rows, topK, ALLOCATED), 'group') : undefined,
      };
      return {
        record: () => recordMoeExperts(rec, routed, shared, b, { rows, hidden, inter, topK, sharedInter }),
        destroy: () => bufs.forEach((x) => x.destroy()),
      };
    },
  };
}

export const benches: KernelBench[] = [
  routeBench('v3', MOE_ROUTE_CASES.v3, 1),
  routeBench('v3', MOE_ROUTE_CASES.v3, 512),
  routeBench('v2-lite', MOE_ROUTE_CASES.v2Lite, 1),
  routeBench('v2-lite', MOE_ROUTE_CASES.v2Lite, 512),
  expertsBench(V3, 1, false),
  expertsBench(V2_LITE, 1, false),
  expertsBench(V2_LITE, 4, false),
  expertsBench(V3, 8, true), // 64 pairs over 16 experts: 4 per expert, one full tile each
  expertsBench(V2_LITE, 32, true),
  expertsBench(V2_LITE, 32, false),
  // V2-Lite as released (BF16 experts)
  expertsBench(V2_LITE, 1, false, 'bf16'),
  expertsBench(V2_LITE, 32, true, 'bf16'),
  // --quantize q4 (docs/q4.md)
  expertsBench(V3, 1, false, 'q4'),
  expertsBench(V2_LITE, 1, false, 'q4'),
  expertsBench(V2_LITE, 32, true, 'q4'),
];
