// Test support (imported by *.test.ts only): turns a byte-level BPE tokenizer.json into the tiktoken format,
// so the tiktoken code can be checked id for id against @huggingface/tokenizers on a real vocabulary.
import { byteLevelToBinary } from './tiktoken.ts';

/**
 * tiktoken.model text whose ranks are the tokenizer.json ids, plus an added_tokens_decoder for its added
 * tokens. Ranks double as merge priorities in tiktoken, so ids can be kept only when they already follow
 * merge order (true of a freshly trained HF vocabulary: alphabet first, then one new id per merge); this
 * checks that rather than assume it, and throws if the vocabulary does not qualify.
 */
export function tiktokenFromTokenizerJson(json: any): { model: string; addedTokensDecoder: Record<string, unknown> } {
  const added = new Set<number>((json.added_tokens ?? []).map((t: { id: number }) => t.id));
  const vocab = json.model.vocab as Record<string, number>;
  let lastMerge = -1;
  let maxSingleByte = -1;
  const lines: string[] = [];
  for (const [token, id] of Object.entries(vocab)) {
    if (added.has(id)) continue;
    const bytes = byteLevelToBinary(token);
    if (bytes === undefined) throw new Error(`vocabulary entry '${token}' is not byte-level`);
    if (bytes.length === 1) maxSingleByte = Math.max(maxSingleByte, id);
    lines.push(`${btoa(bytes)} ${id}`);
  }
  for (const merge of json.model.merges as (string | [string, string])[]) {
    const [left, right] = typeof merge === 'string' ? merge.split(' ') : merge;
    const id = vocab[left + right];
    if (!(id > lastMerge && id > maxSingleByte)) throw new Error(`merge '${left} ${right}' gives id ${id}, out of merge order`);
    lastMerge = id;
  }
  const addedTokensDecoder: Record<string, unknown> = {};
  for (const t of json.added_tokens ?? []) addedTokensDecoder[t.id] = { content: t.content, special: t.special };
  return { model: lines.join('\n') + '\n', addedTokensDecoder };
}
