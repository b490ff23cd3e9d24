// MoE routing: shaders/moe-route.wgsl. Reference: src/reference/moe-route.ts (routeToken).
// The router logits come from the matmul kernel (x · mlp.gate.weightᵀ, BF16 widened to f32 at load).
import { defineKernel, expectBytes, expectThat } from '../gpu/kernel.ts';
import { workgroupKnob } from '../gpu/launch-shapes.ts';
import type { Bindable, Recorder } from '../gpu/recorder.ts';
import type { RoutingConfig } from '../reference/moe-route.ts';

const METHODS = { greedy: 0, group_limited_greedy: 1, noaux_tc: 2 } as const;

/** The shader's MAX_TOP_K and MAX_GROUPS: the sizes of its selection and group-score arrays. */
export const MOE_ROUTE_MAX_TOP_K = 16;
export const MOE_ROUTE_MAX_GROUPS = 32;

export const moeRouteKernel = defineKernel({
  shader: 'moe-route',
  bindings: { logits: 'read', bias: 'read', experts: 'read_write', weights: 'read_write' },
  params: { rows: 'u32', scale: 'f32' },
  overrides: { N_EXPERTS: 256, TOP_K: 8, N_GROUP: 1, TOPK_GROUP: 1, METHOD: 0, SIGMOID: 0, NORMALISE: 0, HAS_BIAS: 0 },
  launch: workgroupKnob,
  check: ({ logits, bias, experts, weights }, p, o) => {
    const at = (ok: boolean, what: string) => expectThat('moe-route', ok, what);
    at(o.TOP_K >= 1 && o.TOP_K <= MOE_ROUTE_MAX_TOP_K && o.TOP_K <= o.N_EXPERTS, `TOP_K ${o.TOP_K} must be in 1..min(${MOE_ROUTE_MAX_TOP_K}, N_EXPERTS)`);
    at(o.N_GROUP >= 1 && o.N_GROUP <= MOE_ROUTE_MAX_GROUPS && o.N_EXPERTS % o.N_GROUP === 0, `N_GROUP ${o.N_GROUP} must be <= ${MOE_ROUTE_MAX_GROUPS} and divide N_EXPERTS ${o.N_EXPERTS}`);
    at(o.TOPK_GROUP >= 1 && o.TOPK_GROUP <= o.N_GROUP, `TOPK_GROUP ${o.TOPK_GROUP} must be in 1..N_GROUP`);
    expectBytes('moe-route', 'logits', logits, p.rows * o.N_EXPERTS * 4);
    if (o.HAS_BIAS) expectBytes('moe-route', 'bias', bias, o.N_EXPERTS * 4);
    expectBytes('moe-route', 'experts', experts, p.rows * o.TOP_K * 4);
    expectBytes('moe-route', 'weights', weights, p.rows * o.TOP_K * 4);
  },
  grid: (p, o) => [Math.ceil(p.rows / o.WG_SIZE)],
});

/** Compile-time constants and the weight scale for a model's routing config. */
type RouteOverrides = typeof moeRouteKernel.spec.overrides;

export function moeRouteConfig(c: RoutingConfig, hasBias: boolean): { overrides: RouteOverrides; scale: number } {
  const grouped = c.topkMethod !== 'greedy' && c.nGroup > 1; // the reference ignores groups otherwise
  const normalise = c.normTopkProb && c.numExpertsPerTok > 1;
  return {
    overrides: {
      N_EXPERTS: c.nRoutedExperts,
      TOP_K: c.numExpertsPerTok,
      N_GROUP: grouped ? c.nGroup : 1,
      TOPK_GROUP: grouped ? c.topkGroup : 1,
      METHOD: METHODS[c.topkMethod],
      SIGMOID: c.scoringFunc === 'sigmoid' ? 1 : 0,
      NORMALISE: normalise ? 1 : 0,
      HAS_BIAS: hasBias && c.topkMethod === 'noaux_tc' ? 1 : 0, // only noaux_tc reads the bias
    },
    // V2 (HF) multiplies by routed_scaling_factor only when it does not normalise; V3 always does.
    scale: !normalise || c.scaleAfterNormalise ? c.routedScalingFactor : 1,
  };
}

/**
 * experts[r, k] (u32) and weights[r, k] (f32), best first, for `rows` tokens from their router logits
 * [rows, nRoutedExperts] f32. `bias` is e_score_correction_bias [nRoutedExperts] f32 (noaux_tc only).
 */
export function recordMoeRoute(
  rec: Recorder,
  cfg: RoutingConfig,
  b: { logits: Bindable; bias?: Bindable; experts: Bindable; weights: Bindable },
  rows: number,
): void {
  const { overrides, scale } = moeRouteConfig(cfg, b.bias !== undefined);
  // Without a bias the binding is never read; any buffer satisfies the layout.
  const buffers = { logits: b.logits, bias: b.bias ?? b.logits, experts: b.experts, weights: b.weights };
  moeRouteKernel.record(rec, buffers, { rows, scale }, overrides);
}
