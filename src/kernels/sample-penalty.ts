// Penalties on one row of logits, in place: shaders/sample-penalty.wgsl. The repetition penalty's token set
// and the additive (frequency / presence) amounts are merged into one entry per distinct token.
// Reference: src/reference/sample.ts (penalizedLogits).
import type { SampleRequest } from '../sampling/rules.ts';
import { defineKernel, expectBytes } from '../gpu/kernel.ts';
import { workgroupKnob } from '../gpu/launch-shapes.ts';

/** u32 words per entry: token, scaled (0/1), offset (f32 bits). */
export const PENALTY_ENTRY_WORDS = 3;

export const samplePenalty = defineKernel({
  shader: 'sample-penalty',
  bindings: { entries: 'read', logits: 'read_write' },
  params: { count: 'u32', vocab: 'u32', row: 'u32', penalty: 'f32', inv_penalty: 'f32' },
  overrides: {},
  launch: workgroupKnob,
  check: ({ entries, logits }, p) => {
    expectBytes('sample-penalty', 'entries', entries, p.count * PENALTY_ENTRY_WORDS * 4);
    expectBytes('sample-penalty', 'logits', logits, (p.row + 1) * p.vocab * 4);
  },
  grid: (p, o) => [Math.ceil(p.count / o.WG_SIZE)],
});

export interface PenaltyEntry {
  token: number;
  /** The repetition penalty applies (the token is in penalizedTokens and the penalty is not 1). */
  scaled: boolean;
  /** Subtracted after scaling; 0 = none. */
  offset: number;
}

/** One entry per distinct token the request penalizes in any way, in first-seen order; [] = nothing to do. */
export function penaltyEntries(req: Pick<SampleRequest, 'repetitionPenalty' | 'penalizedTokens' | 'additivePenalties'>): PenaltyEntry[] {
  const byToken = new Map<number, PenaltyEntry>();
  if (req.repetitionPenalty !== 1) for (const token of req.penalizedTokens) byToken.set(token, { token, scaled: true, offset: 0 });
  for (const [token, offset] of req.additivePenalties ?? []) {
    if (offset === 0) continue;
    const e = byToken.get(token);
    if (e) e.offset = offset;
    else byToken.set(token, { token, scaled: false, offset });
  }
  return [...byToken.values()];
}

/** The entries as the shader reads them. */
export function packPenalties(entries: readonly PenaltyEntry[]): Uint32Array {
  const words = new Uint32Array(entries.length * PENALTY_ENTRY_WORDS);
  const offsets = new Float32Array(words.buffer);
  entries.forEach((e, i) => {
    words[i * 3] = e.token;
    words[i * 3 + 1] = e.scaled ? 1 : 0;
    offsets[i * 3 + 2] = e.offset;
  });
  return words;
}
