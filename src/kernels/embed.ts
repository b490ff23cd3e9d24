// Embedding lookup from a BF16 or F32 table split into parts of whole rows: shaders/embed.wgsl.
// Reference: src/reference/embed.ts.
import { defineKernel, expectBytes, expectThat } from '../gpu/kernel.ts';
import { workgroupKnob } from '../gpu/launch-shapes.ts';
import type { Bindable, Recorder } from '../gpu/recorder.ts';

/** Rows [firstRow, firstRow + rows) of the vocabulary, in one buffer. */
export interface EmbeddingPart {
  table: Bindable;
  firstRow: number;
  rows: number;
}

const variant = (bf16: boolean) =>
  defineKernel({
    shader: 'embed',
    bindings: { tokens: 'read', table: 'read', out: 'read_write' },
    params: { rows: 'u32', hidden: 'u32', first_row: 'u32', part_rows: 'u32', vocab: 'u32' },
    overrides: {},
    launch: workgroupKnob,
    flags: { BF16: bf16 },
    check: ({ table }, p) => {
      expectThat('embed', !bf16 || p.hidden % 2 === 0, `BF16 tables need an even hidden size, got ${p.hidden}`);
      expectBytes('embed', 'table', table, p.part_rows * p.hidden * (bf16 ? 2 : 4));
    },
    grid: (p, o) => [Math.ceil(p.hidden / o.WG_SIZE), p.rows], // one workgroup row per token
  });

const kernels = { BF16: variant(true), F32: variant(false) };

/**
 * out[r] = table[tokens[r]] for `rows` token ids already on the GPU (u32). Ids must be < vocab: callers
 * check them on the CPU (InputError) before they reach the GPU.
 */
export function recordEmbed(
  rec: Recorder,
  dtype: 'BF16' | 'F32',
  parts: EmbeddingPart[],
  tokens: Bindable,
  out: Bindable,
  p: { rows: number; hidden: number; vocab: number },
): void {
  expectThat('embed', parts.reduce((n, part) => n + part.rows, 0) === p.vocab, `table parts cover ${parts.map((x) => x.rows)} rows, vocab is ${p.vocab}`);
  expectBytes('embed', 'tokens', tokens, p.rows * 4);
  expectBytes('embed', 'out', out, p.rows * p.hidden * 4);
  const kernel = kernels[dtype];
  for (const part of parts) {
    const params = { rows: p.rows, hidden: p.hidden, first_row: part.firstRow, part_rows: part.rows, vocab: p.vocab };
    kernel.record(rec, { tokens, table: part.table, out }, params);
  }
}
