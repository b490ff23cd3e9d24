// The tiktoken tokenizer format (Moonlight, Kimi-K2): `tiktoken.model` lists each token's bytes in base64 with
// its rank, one per line. A rank is both the token's id and its merge priority, so encoding is byte-level BPE
// that repeatedly joins the adjacent pair whose joined bytes have the lowest rank. The file carries no
// pre-tokenization pattern (it lives in the models' Python tokenizer code), so one is passed in; the default is
// Kimi-K2's. Special tokens come from tokenizer_config.json's `added_tokens_decoder`.
// Browser-safe: takes the file's text; reading it from a folder is load.ts's job.
import { CheckpointError, InputError } from '../errors.ts';

/**
 * `pat_str` of Kimi-K2's tokenization_kimi.py (Moonlight's tokenization_moonshot.py uses the same), rewritten
 * for JavaScript's `v` flag, because Python's `regex` syntax does not carry over as is:
 * - class intersection `[X&&[^\p{Han}]]` becomes class subtraction `[[X]--\p{scx=Han}]`;
 * - `\p{Han}` becomes Script_Extensions=Han, which is how we understand the Rust regex engine under
 *   tiktoken to read a bare script name (so CJK punctuation such as 。 joins a Han run); this detail is not
 *   checked against Kimi's own tokenizer here, for want of its files;
 * - the scoped case-insensitive group `(?i:'s|...)` is spelled out with both cases (and ſ, which folds to s);
 * - `\s` is `\p{White_Space}`: JavaScript's `\s` adds U+FEFF and lacks U+0085, Rust's does neither.
 */
export const KIMI_PATTERN = (() => {
  const ws = '\\p{White_Space}';
  const upperish = '[[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]--\\p{scx=Han}]';
  const lowerish = '[[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]--\\p{scx=Han}]';
  const contraction = "(?:'[sSſ]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?";
  return [
    '\\p{scx=Han}+',
    `[^\\r\\n\\p{L}\\p{N}]?${upperish}*${lowerish}+${contraction}`,
    `[^\\r\\n\\p{L}\\p{N}]?${upperish}+${lowerish}*${contraction}`,
    '\\p{N}{1,3}',
    ` ?[^${ws}\\p{L}\\p{N}]+[\\r\\n]*`,
    `${ws}*[\\r\\n]+`,
    `${ws}+(?!\\P{White_Space})`,
    `${ws}+`,
  ].join('|');
})();

/**
 * Limits of Kimi-K2's / Moonlight's Python `encode`, which hands tiktoken the text in pieces: cut every
 * `maxChars` code points, then inside any run of more than `maxRun` whitespace (or non-whitespace) code points.
 * Tokens never span a cut, so ids near one differ from encoding the text whole; we cut the same way.
 */
export interface TiktokenChunking {
  maxChars: number;
  maxRun: number;
}

export const KIMI_CHUNKING: TiktokenChunking = { maxChars: 400_000, maxRun: 25_000 };

export interface TiktokenOptions {
  /** Pre-tokenization regex source, compiled with flags `gv`. Default KIMI_PATTERN. */
  pattern?: string;
  /** Where the text is cut before encoding; null for never. Default KIMI_CHUNKING. */
  chunking?: TiktokenChunking | null;
  /** Shown in errors: the tiktoken.model path or URL. */
  file?: string;
}

/** One special (added) token: its text and whether HF marks it special (dropped by skipSpecialTokens). */
export interface TiktokenSpecial {
  content: string;
  special: boolean;
}

/**
 * Byte-level BPE over a tiktoken rank table. Token bytes are kept as "binary strings" (one char per byte,
 * U+0000-U+00FF) so they can key a Map without a custom hash.
 */
export class TiktokenBpe {
  readonly file: string;
  /** Highest id among ranks and special tokens. */
  readonly maxId: number;
  private readonly ranks = new Map<string, number>();
  private readonly bytesOf = new Map<number, string>();
  private readonly specialIdOf = new Map<string, number>();
  private readonly specialOf = new Map<number, TiktokenSpecial>();
  private readonly splitter: RegExp;
  private readonly chunking: TiktokenChunking | null;
  /** Matches any special token's text, longest first so a token that prefixes another cannot win. */
  private readonly specialSplitter: RegExp | null;

  constructor(modelText: string, specials: ReadonlyMap<number, TiktokenSpecial>, options: TiktokenOptions = {}) {
    this.file = options.file ?? 'tiktoken.model';
    let maxId = -1;
    const lines = modelText.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i].replace(/\r$/, '');
      if (line === '') continue;
      const where = `line ${i + 1}`;
      const fields = line.split(' ');
      if (fields.length !== 2) throw new CheckpointError(this.file, `${where}: expected "<base64 bytes> <rank>"`);
      const [b64, rankText] = fields;
      if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(b64) || b64 === '') {
        throw new CheckpointError(this.file, `${where}: token '${b64.slice(0, 40)}' is not base64`);
      }
      if (!/^\d+$/.test(rankText) || !Number.isSafeInteger(Number(rankText))) {
        throw new CheckpointError(this.file, `${where}: rank '${rankText.slice(0, 40)}' is not a non-negative integer`);
      }
      const bytes = atob(b64);
      const rank = Number(rankText);
      if (this.ranks.has(bytes)) throw new CheckpointError(this.file, `${where}: token '${b64}' is listed twice`);
      if (this.bytesOf.has(rank)) throw new CheckpointError(this.file, `${where}: rank ${rank} is listed twice`);
      this.ranks.set(bytes, rank);
      this.bytesOf.set(rank, bytes);
      maxId = Math.max(maxId, rank);
    }
    // Every text must be encodable, and a single byte is never a merge result, so each needs its own rank.
    for (let b = 0; b < 256; b++) {
      if (!this.ranks.has(String.fromCharCode(b))) {
        throw new CheckpointError(this.file, `has no token for the single byte 0x${b.toString(16).padStart(2, '0')}`);
      }
    }
    for (const [id, token] of specials) {
      if (this.bytesOf.has(id)) {
        throw new CheckpointError(this.file, `special token '${token.content}' has id ${id}, which this file already gives to a token`);
      }
      this.specialIdOf.set(token.content, id);
      this.specialOf.set(id, token);
      maxId = Math.max(maxId, id);
    }
    this.maxId = maxId;

    this.chunking = options.chunking === undefined ? KIMI_CHUNKING : options.chunking;
    const pattern = options.pattern ?? KIMI_PATTERN;
    try {
      this.splitter = new RegExp(pattern, 'gv');
    } catch (e) {
      throw new InputError('pattern', `not a valid JavaScript regex with the v flag: ${(e as Error).message}`);
    }
    const contents = [...this.specialIdOf.keys()].filter((c) => c !== '').sort((a, b) => b.length - a.length);
    this.specialSplitter = contents.length === 0 ? null : new RegExp(contents.map(escapeRegex).join('|'), 'g');
  }

  /** Ids of `text`, where the text of a special token becomes that token's id. */
  encode(text: string): number[] {
    const ids: number[] = [];
    // Cut before matching special tokens, as the Python tokenizer does.
    if (this.chunking === null) this.encodeChunk(text, ids);
    else for (const chunk of chunks(text, this.chunking)) this.encodeChunk(chunk, ids);
    return ids;
  }

  private encodeChunk(text: string, ids: number[]): void {
    if (this.specialSplitter === null) {
      this.encodeOrdinary(text, ids);
      return;
    }
    let start = 0;
    for (const match of text.matchAll(this.specialSplitter)) {
      this.encodeOrdinary(text.slice(start, match.index), ids);
      ids.push(this.specialIdOf.get(match[0]) as number);
      start = (match.index as number) + match[0].length;
    }
    this.encodeOrdinary(text.slice(start), ids);
  }

  /** Text of `ids`; invalid UTF-8 (a character cut between ids) becomes U+FFFD, as HF's byte-level decoder does. */
  decode(ids: readonly number[], skipSpecialTokens: boolean): string {
    const out: number[] = [];
    for (const id of ids) {
      const special = this.specialOf.get(id);
      let bytes: string;
      if (special !== undefined) {
        if (skipSpecialTokens && special.special) continue;
        bytes = toBinary(special.content);
      } else {
        const found = this.bytesOf.get(id);
        if (found === undefined) throw new InputError('ids', `token id ${id} is not in ${this.file}`);
        bytes = found;
      }
      for (let i = 0; i < bytes.length; i++) out.push(bytes.charCodeAt(i));
    }
    return new TextDecoder().decode(new Uint8Array(out));
  }

  has(id: number): boolean {
    return this.bytesOf.has(id) || this.specialOf.has(id);
  }

  specialTokens(): ReadonlyMap<number, TiktokenSpecial> {
    return this.specialOf;
  }

  /**
   * The vocabulary string of an id in the GPT-2 byte-level alphabet ('Ġthe'), the form tokenizer.json uses,
   * so callers see the same kind of string from either format; special tokens are their text.
   */
  idToToken(id: number): string | undefined {
    const special = this.specialOf.get(id);
    if (special !== undefined) return special.content;
    const bytes = this.bytesOf.get(id);
    if (bytes === undefined) return undefined;
    let s = '';
    for (let i = 0; i < bytes.length; i++) s += BYTE_TO_CHAR[bytes.charCodeAt(i)];
    return s;
  }

  tokenToId(token: string): number | undefined {
    const special = this.specialIdOf.get(token);
    if (special !== undefined) return special;
    const bytes = byteLevelToBinary(token);
    return bytes === undefined ? undefined : this.ranks.get(bytes);
  }

  private encodeOrdinary(text: string, ids: number[]): void {
    for (const match of text.matchAll(this.splitter)) {
      const piece = toBinary(match[0]);
      const whole = this.ranks.get(piece);
      if (whole !== undefined) ids.push(whole);
      else this.mergePiece(piece, ids);
    }
  }

  /**
   * Merges a pre-token's bytes by rank. Each merge rescans the pair ranks, so the work is quadratic in the
   * piece length; pre-tokenization keeps pieces short (words, digit triples, punctuation runs), and keeping
   * the ranks of adjacent pairs in an array means only the two pairs touching a merge are looked up again,
   * which keeps rare long runs (a line of 5,000 dashes) tolerable.
   */
  private mergePiece(piece: string, ids: number[]): void {
    // starts[i] is the byte offset where part i begins; the last entry is the end of the piece.
    const starts: number[] = [];
    for (let i = 0; i <= piece.length; i++) starts.push(i);
    const pairRank = (i: number): number =>
      i + 2 < starts.length ? (this.ranks.get(piece.slice(starts[i], starts[i + 2])) ?? Infinity) : Infinity;
    // pairs[i] is the rank of parts i and i+1 joined (Infinity when not a token).
    const pairs: number[] = [];
    for (let i = 0; i + 2 < starts.length; i++) pairs.push(pairRank(i));
    for (;;) {
      let best = Infinity;
      let at = -1;
      for (let i = 0; i < pairs.length; i++) {
        if (pairs[i] < best) {
          best = pairs[i];
          at = i;
        }
      }
      if (at < 0) break;
      starts.splice(at + 1, 1);
      pairs.splice(at, 1);
      if (at < pairs.length) pairs[at] = pairRank(at);
      if (at > 0) pairs[at - 1] = pairRank(at - 1);
    }
    for (let i = 0; i + 1 < starts.length; i++) ids.push(this.ranks.get(piece.slice(starts[i], starts[i + 1])) as number);
  }
}

/**
 * Parses a tiktoken.model with the special tokens of a tokenizer_config.json (`added_tokens_decoder`:
 * `{"163584": {"content": "[BOS]", "special": true}, ...}`).
 */
export function tiktokenFromConfig(modelText: string, config: Record<string, unknown>, configFile: string, options: TiktokenOptions = {}): TiktokenBpe {
  const specials = new Map<number, TiktokenSpecial>();
  const decoder = config.added_tokens_decoder;
  if (decoder !== undefined) {
    if (typeof decoder !== 'object' || decoder === null || Array.isArray(decoder)) {
      throw new CheckpointError(configFile, 'added_tokens_decoder is not an object of id -> token');
    }
    for (const [key, value] of Object.entries(decoder)) {
      const id = Number(key);
      const token = value as Record<string, unknown> | null;
      if (!/^\d+$/.test(key) || !Number.isSafeInteger(id) || typeof token?.content !== 'string') {
        throw new CheckpointError(configFile, `added_tokens_decoder entry '${key.slice(0, 40)}' needs an integer id and a "content" string`);
      }
      specials.set(id, { content: token.content, special: token.special === true });
    }
  }
  return new TiktokenBpe(modelText, specials, options);
}

/** The pieces TiktokenChunking describes, in order; their concatenation is `text`. */
function* chunks(text: string, limits: TiktokenChunking): Generator<string> {
  // Code points never outnumber UTF-16 units, so a short text has nothing to cut.
  if (text.length <= Math.min(limits.maxRun, limits.maxChars)) {
    yield text;
    return;
  }
  let charsInChunk = 0;
  let pieceStart = 0;
  let runLength = 0;
  let runIsSpace = false;
  for (let i = 0; i < text.length; ) {
    const cp = text.codePointAt(i) as number;
    const width = cp > 0xffff ? 2 : 1;
    if (charsInChunk === limits.maxChars) {
      if (i > pieceStart) yield text.slice(pieceStart, i);
      pieceStart = i;
      charsInChunk = 0;
    }
    // Python's str.isspace: White_Space plus the four information separators U+001C-U+001F.
    const isSpace = SPACE.test(String.fromCodePoint(cp));
    if (charsInChunk === 0 || isSpace !== runIsSpace) {
      runIsSpace = isSpace;
      runLength = 1;
    } else if (++runLength > limits.maxRun) {
      yield text.slice(pieceStart, i);
      pieceStart = i;
      runLength = 1;
    }
    charsInChunk++;
    i += width;
  }
  if (text.length > pieceStart || text.length === 0) yield text.slice(pieceStart);
}

const SPACE = /^[\p{White_Space}\x1c-\x1f]$/u;

/** UTF-8 bytes of `text` as a binary string. */
function toBinary(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

/** The bytes (as a binary string) a GPT-2 byte-level vocabulary string stands for; undefined when it is not one. */
export function byteLevelToBinary(token: string): string | undefined {
  let bytes = '';
  for (const ch of token) {
    const b = CHAR_TO_BYTE.get(ch);
    if (b === undefined) return undefined;
    bytes += String.fromCharCode(b);
  }
  return bytes;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

// GPT-2's byte <-> printable character table: printable Latin-1 bytes stand for themselves, the other 68
// bytes take the characters from U+0100 on, in byte order.
const BYTE_TO_CHAR: string[] = [];
const CHAR_TO_BYTE = new Map<string, number>();
{
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    const ch = String.fromCharCode(printable ? b : next++);
    BYTE_TO_CHAR.push(ch);
    CHAR_TO_BYTE.set(ch, b);
  }
}
