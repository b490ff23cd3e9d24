// Dense SwiGLU MLP and the MoE block: y = shared(x) + Σ_k w_k · expert_k(x) per token, with the experts
// chosen by moe-route.ts. x: [rows, hidden] → y: [rows, hidden].
import type { ModelConfig } from '../config/model-config.ts';
import { linear } from './matmul.ts';
import { routeToken, type Route } from './moe-route.ts';
import { swiglu } from './swiglu.ts';
import type { MlpWeights, MoeWeights } from './weights.ts';

/** down(silu(gate(x)) * up(x)). */
export function mlpForward(x: ArrayLike<number>, rows: number, w: MlpWeights): Float64Array {
  const hidden = w.gate.cols;
  const inter = w.gate.rows;
  const act = swiglu(linear(x, rows, hidden, w.gate.data, inter), linear(x, rows, hidden, w.up.data, inter));
  return linear(act, rows, inter, w.down.data, hidden);
}

/** Router decisions for each row (exposed for the GPU routing tests). */
export function routeRows(x: ArrayLike<number>, rows: number, w: MoeWeights, c: ModelConfig): Route[] {
  const logits = linear(x, rows, c.hiddenSize, w.router.data, c.nRoutedExperts);
  return Array.from({ length: rows }, (_, r) =>
    routeToken(logits.subarray(r * c.nRoutedExperts, (r + 1) * c.nRoutedExperts), c, w.correctionBias),
  );
}

/** Called with each MoE layer's routing decisions (benchmarks count the experts a step reads). */
export type RouteObserver = (routes: Route[]) => void;

export function moeForward(x: Float64Array, rows: number, w: MoeWeights, c: ModelConfig, observe?: RouteObserver): Float64Array {
  const hidden = c.hiddenSize;
  const y = w.shared ? mlpForward(x, rows, w.shared) : new Float64Array(rows * hidden);
  const routes = routeRows(x, rows, w, c);
  observe?.(routes);
  for (let r = 0; r < rows; r++) {
    const xr = x.subarray(r * hidden, (r + 1) * hidden);
    routes[r].experts.forEach((e, k) => {
      const out = mlpForward(xr, 1, w.experts[e]);
      for (let i = 0; i < hidden; i++) y[r * hidden + i] += routes[r].weights[k] * out[i];
    });
  }
  return y;
}
