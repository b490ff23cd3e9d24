// Test support (imported by *.test.ts only): a deliberately naive byte-level BPE written from the algorithm's
// description, so tokenizer tests compare @huggingface/tokenizers against something that shares none of its
// code. It reads only tokenizer.json's vocab, merges and pre_tokenizer (Split / ByteLevel / Sequence); it
// knows nothing of added tokens, so feed it plain text.

// GPT-2's pre-tokenizer pattern, used by ByteLevel when use_regex is true.
const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

export class ReferenceBpe {
  private readonly vocab: Map<string, number>;
  private readonly ranks = new Map<string, number>(); // 'left right' -> merge priority (lower first)
  private readonly byteChar: string[] = byteToChar();

  constructor(private readonly json: any) {
    this.vocab = new Map(Object.entries(json.model.vocab as Record<string, number>));
    (json.model.merges as (string | [string, string])[]).forEach((m, rank) => {
      this.ranks.set(typeof m === 'string' ? m : m.join(' '), rank);
    });
  }

  encode(text: string): number[] {
    return this.preTokenize([text], this.json.pre_tokenizer).flatMap((word) => this.bpe(word));
  }

  private preTokenize(pieces: string[], config: any): string[] {
    switch (config.type) {
      case 'Sequence':
        return config.pretokenizers.reduce((acc: string[], c: any) => this.preTokenize(acc, c), pieces);
      case 'Split':
        if (config.behavior !== 'Isolated' || config.invert) throw new Error('reference BPE: unsupported Split');
        return splitIsolated(pieces, config.pattern.Regex);
      case 'ByteLevel': {
        if (config.add_prefix_space) throw new Error('reference BPE: add_prefix_space not supported');
        const split = config.use_regex ? splitIsolated(pieces, GPT2_PATTERN) : pieces;
        return split.map((p) => Array.from(new TextEncoder().encode(p), (b) => this.byteChar[b]).join(''));
      }
      default:
        throw new Error(`reference BPE: pre-tokenizer ${config.type} not supported`);
    }
  }

  // The textbook loop: merge every occurrence of the best-ranked adjacent pair until no pair has a rank.
  private bpe(word: string): number[] {
    let symbols = [...word];
    for (;;) {
      let best: string | null = null;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < symbols.length; i++) {
        const rank = this.ranks.get(`${symbols[i]} ${symbols[i + 1]}`);
        if (rank !== undefined && rank < bestRank) [best, bestRank] = [`${symbols[i]} ${symbols[i + 1]}`, rank];
      }
      if (best === null) break;
      const merged: string[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (i + 1 < symbols.length && `${symbols[i]} ${symbols[i + 1]}` === best) {
          merged.push(symbols[i] + symbols[i + 1]);
          i++;
        } else {
          merged.push(symbols[i]);
        }
      }
      symbols = merged;
    }
    return symbols.map((s) => {
      const id = this.vocab.get(s);
      if (id === undefined) throw new Error(`reference BPE: '${s}' is not in the vocab`);
      return id;
    });
  }
}

// Each piece becomes its regex matches plus the text between them, in order.
function splitIsolated(pieces: string[], pattern: string): string[] {
  const re = new RegExp(pattern, 'gu');
  const out: string[] = [];
  for (const piece of pieces) {
    let at = 0;
    for (const m of piece.matchAll(re)) {
      if (m.index > at) out.push(piece.slice(at, m.index));
      if (m[0] !== '') out.push(m[0]);
      at = m.index + m[0].length;
    }
    if (at < piece.length) out.push(piece.slice(at));
  }
  return out;
}

// GPT-2's byte -> printable character table: printable Latin-1 bytes stand for themselves, the other 68 bytes
// take the code points from 256 upwards in byte order (so ' ' is 'Ġ' = 256 + 32).
function byteToChar(): string[] {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const table: string[] = [];
  let next = 256;
  for (let b = 0; b < 256; b++) table.push(String.fromCodePoint(printable(b) ? b : next++));
  return table;
}
