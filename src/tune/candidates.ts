// The launch shapes `tune` tries, knob by knob (src/gpu/launch-profile.ts names the knobs): a few values around
// what the CPU and GPU profiles choose, within what the shaders take (power-of-two reductions: rmsnorm,
// kv-append; sample-filter's workgroup histogram fits 16 KiB only up to 64 threads).
import type { LaunchProfile } from '../gpu/launch-profile.ts';

export type KnobCandidates = Record<string, Record<string, readonly number[]>>;

const WG = [16, 32, 64, 128, 256];

export const TUNE_CANDIDATES: KnobCandidates = {
  rmsnorm: { WG_SIZE: [4, 32, 64, 256] },
  'kv-append': { WG_SIZE: [4, 32, 128] },
  matmul: { WG_SIZE: [16, 32, 64, 128], MIN_WORKGROUPS: [16, 64, 256], ROWS: [4, 8] },
  'mla-decode': { WG_MULTIPLE: [4, 32, 64] }, // TARGET_WORKGROUPS: see candidatesFor
  'mla-merge': { WG_SIZE: WG },
  'mla-absorb-q': { WG_SIZE: WG },
  'mla-absorb-v': { WG_SIZE: WG },
  'moe-route': { WG_SIZE: [32, 64] },
  'moe-group': { WG_SIZE: [64, 256] },
  'moe-gate-up': { WG_SIZE: [32, 64, 128], WG_MULTIPLE: [4, 32] },
  'moe-down': { WG_SIZE: [32, 64, 128], WG_MULTIPLE: [4, 32] },
  'moe-gate-up-grouped': { WG_SIZE: [32, 64, 128], WG_MULTIPLE: [4, 32] },
  'moe-down-grouped': { WG_SIZE: [32, 64, 128], WG_MULTIPLE: [4, 32] },
  'moe-combine': { WG_SIZE: [64, 256] },
  'residual-add': { WG_SIZE: [64, 256] },
  swiglu: { WG_SIZE: [64, 256] },
  embed: { WG_SIZE: [64, 256] },
  'sample-argmax': { WG_SIZE: [64, 256], SPAN: [1024, 4096, 16384] },
  'sample-argmax-merge': { WG_SIZE: [32, 64] },
};

/** Kernels whose time a kernel's knobs also move (the attention's splits are merged; argmax's groups too). */
export const ALSO_TIMED: Record<string, string[]> = { 'mla-decode': ['mla-merge'], 'sample-argmax': ['sample-argmax-merge'] };

/**
 * The candidates for `profile` on a device allowing `maxThreads` per workgroup: the table's values that fit,
 * each knob's current value first, and the attention target at most the one the model's scratch was planned
 * for (fewer splits need less scratch, more would not fit).
 */
export function candidatesFor(profile: LaunchProfile, maxThreads: number, plannedTarget: number, table: KnobCandidates = TUNE_CANDIDATES): KnobCandidates {
  const out: Record<string, Record<string, number[]>> = {};
  for (const [kernel, knobs] of Object.entries(table)) {
    if (!profile.knobs[kernel]) continue;
    for (const [name, values] of Object.entries(knobs)) {
      const current = profile.knobs[kernel][name];
      if (current === undefined) continue;
      const fit = values.filter((v) => !name.startsWith('WG_') || v <= maxThreads);
      (out[kernel] ??= {})[name] = [...new Set([current, ...fit])];
    }
  }
  if (profile.knobs['mla-decode'] && table === TUNE_CANDIDATES) {
    const targets = [plannedTarget, Math.ceil(plannedTarget / 2), Math.ceil(plannedTarget / 4)];
    out['mla-decode'].TARGET_WORKGROUPS = [...new Set([profile.knobs['mla-decode'].TARGET_WORKGROUPS, ...targets])].filter((t) => t >= 1 && t <= plannedTarget);
  }
  return out;
}
