// Launch constants derived from a kernel's profile knobs (src/gpu/launch-profile.ts) and its problem size:
// the kernels' `launch` functions (defineKernel) call these, so every launch shape is decided from the profile.
import type { KnobReader } from './kernel.ts';

/** The plain case: WG_SIZE is the knob itself. */
export const workgroupKnob = (k: KnobReader): { WG_SIZE: number } => ({ WG_SIZE: k('WG_SIZE') });

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;

/**
 * A workgroup for `n` outputs at `perThread` each: the fewest workgroups of at most `maxSize` threads, then as
 * few threads as cover n, in whole multiples of `multiple`. Threads past n only recompute the last output, so
 * a 64-wide group over 192 or 256 outputs would waste a quarter to half of its work.
 */
export function fittedWorkgroup(n: number, perThread: number, maxSize: number, multiple: number): number {
  const size = Math.ceil(n / perThread / Math.ceil(n / (perThread * maxSize)));
  return Math.min(maxSize, roundUp(Math.max(size, 1), multiple));
}

/**
 * matmul: ROWS rows share each weight read (min(rows, the ROWS knob)); WG_SIZE starts at its knob and halves,
 * down to WG_MIN, until the dispatch has MIN_WORKGROUPS workgroups (each thread owns 8 outputs).
 */
export function matmulShape(k: KnobReader, outDim: number, rows: number): { WG_SIZE: number; ROWS: number } {
  const ROWS = Math.max(1, Math.min(rows, k('ROWS')));
  const octets = Math.ceil(outDim / 8);
  const rowBlocks = Math.ceil(rows / ROWS);
  const least = k('WG_MIN');
  const target = k('MIN_WORKGROUPS');
  let WG_SIZE = k('WG_SIZE');
  while (WG_SIZE > least && Math.ceil(octets / WG_SIZE) * rowBlocks < target) WG_SIZE /= 2;
  return { WG_SIZE: Math.max(1, Math.floor(WG_SIZE)), ROWS };
}

/** mla-decode: each thread owns 8 latent columns; as few whole multiples of `multiple` threads as cover kv_lora. */
export function mlaDecodeWorkgroup(kvLora: number, multiple: number): number {
  return Math.max(multiple, roundUp(Math.ceil(kvLora / 8), multiple));
}

/** sample-argmax: workgroups per row, one per `span` logits, at most ARGMAX_MAX_GROUPS. */
export function argmaxGroups(vocab: number, span: number): number {
  return Math.max(1, Math.min(ARGMAX_MAX_GROUPS, Math.ceil(vocab / Math.max(span, ARGMAX_MIN_SPAN))));
}

/** The argmax scratch is sized for the most groups any profile makes: spans of at least this many logits. */
export const ARGMAX_MIN_SPAN = 1024;
export const ARGMAX_MAX_GROUPS = 256;
