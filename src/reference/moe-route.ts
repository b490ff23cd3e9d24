// MoE routing for one token, the three flavours of docs/conventions.md "Routing":
// - greedy: top-k of the scores;
// - group_limited_greedy: keep the topk_group groups with the largest max score, top-k inside them;
// - noaux_tc: choose with c = s + e_score_correction_bias; group score = sum of the group's top-2 c;
//   keep topk_group groups, top-k of c inside them; weights from s (never the bias).
// Scores s are softmax or sigmoid of the router logits. Weights are divided by their sum when
// norm_topk_prob, then times routed_scaling_factor (V2 only scales when it does not normalise).
// Ties go to the lower expert index (the GPU kernel breaks them the same way).
import type { ModelConfig } from '../config/model-config.ts';

export type RoutingConfig = Pick<
  ModelConfig,
  | 'nRoutedExperts'
  | 'numExpertsPerTok'
  | 'nGroup'
  | 'topkGroup'
  | 'topkMethod'
  | 'scoringFunc'
  | 'normTopkProb'
  | 'routedScalingFactor'
  | 'scaleAfterNormalise'
>;

export interface Route {
  experts: number[];
  weights: number[];
}

/** Indices of the k largest values, largest first; ties to the lower index. */
export function topK(values: ArrayLike<number>, k: number, allowed?: (i: number) => boolean): number[] {
  const idx: number[] = [];
  for (let i = 0; i < values.length; i++) if (!allowed || allowed(i)) idx.push(i);
  idx.sort((a, b) => values[b] - values[a] || a - b);
  return idx.slice(0, k);
}

export function routerScores(logits: ArrayLike<number>, scoring: ModelConfig['scoringFunc']): Float64Array {
  const s = new Float64Array(logits.length);
  if (scoring === 'sigmoid') {
    for (let i = 0; i < s.length; i++) s[i] = 1 / (1 + Math.exp(-logits[i]));
    return s;
  }
  let max = -Infinity;
  for (let i = 0; i < s.length; i++) max = Math.max(max, logits[i]);
  let sum = 0;
  for (let i = 0; i < s.length; i++) sum += s[i] = Math.exp(logits[i] - max);
  for (let i = 0; i < s.length; i++) s[i] /= sum;
  return s;
}

/** Route one token from its router logits [n_routed_experts]; `bias` is e_score_correction_bias. */
export function routeToken(logits: ArrayLike<number>, cfg: RoutingConfig, bias?: ArrayLike<number>): Route {
  const n = cfg.nRoutedExperts;
  const scores = routerScores(logits, cfg.scoringFunc);
  const choice = new Float64Array(n);
  for (let e = 0; e < n; e++) choice[e] = scores[e] + (cfg.topkMethod === 'noaux_tc' && bias ? bias[e] : 0);

  let allowed: ((e: number) => boolean) | undefined;
  if (cfg.topkMethod !== 'greedy' && cfg.nGroup > 1) {
    const size = n / cfg.nGroup;
    const groupScore = new Float64Array(cfg.nGroup);
    for (let g = 0; g < cfg.nGroup; g++) {
      const members = choice.subarray(g * size, (g + 1) * size);
      if (cfg.topkMethod === 'noaux_tc') {
        const [a, b] = topK(members, 2);
        groupScore[g] = members[a] + members[b];
      } else {
        groupScore[g] = Math.max(...members);
      }
    }
    const kept = new Set(topK(groupScore, cfg.topkGroup));
    allowed = (e) => kept.has(Math.floor(e / size));
  }

  const experts = topK(choice, cfg.numExpertsPerTok, allowed);
  let weights = experts.map((e) => scores[e]);
  const normalise = cfg.normTopkProb && cfg.numExpertsPerTok > 1;
  if (normalise) {
    const sum = weights.reduce((a, b) => a + b, 0);
    weights = weights.map((w) => w / sum);
  }
  if (!normalise || cfg.scaleAfterNormalise) weights = weights.map((w) => w * cfg.routedScalingFactor);
  return { experts, weights };
}
