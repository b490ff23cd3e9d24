// Text <-> token ids for a checkpoint's tokenizer.json + tokenizer_config.json, over @huggingface/tokenizers.
// Browser-safe: takes the parsed JSON objects; reading them from a folder is load.ts's job.
// See docs/conventions.md "Tokenizer and chat template".
import { Tokenizer } from '@huggingface/tokenizers';
import { CheckpointError, InputError } from '../errors.ts';
import { StreamingDecoder } from './stream-decoder.ts';
import { TiktokenBpe, tiktokenFromConfig, type TiktokenOptions } from './tiktoken.ts';

export interface EncodeOptions {
  /** Prepend the BOS token. Default: tokenizer_config.json's `add_bos_token` (as Python's LlamaTokenizerFast). */
  addBos?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens (BOS, EOS, <｜User｜>, ...) from the text. Default false. */
  skipSpecialTokens?: boolean;
}

/** File labels used in error messages (a path, URL or bare file name). */
export interface TokenizerSources {
  tokenizerFile?: string;
  configFile?: string;
}

/** A parsed tokenizer_config.json; only the fields this module reads are typed. */
export interface TokenizerConfig {
  add_bos_token?: boolean;
  bos_token?: unknown;
  eos_token?: unknown;
  chat_template?: unknown;
  [field: string]: unknown;
}

/** What TextTokenizer needs from a tokenizer format; ids passed to decode are already checked. */
interface Backend {
  /** Ids of text without BOS/EOS, special-token text parsed into its id. */
  encode(text: string): number[];
  /** Ids the format itself puts around an empty text (HF's post-processor; tiktoken adds none). */
  encodeEmptyWithSpecials(): number[];
  decode(ids: number[], skipSpecialTokens: boolean): string;
  has(id: number): boolean;
  maxId(): number;
  /** Added tokens marked special. */
  specials(): Iterable<[string, number]>;
  idToToken(id: number): string | undefined;
  tokenToId(token: string): number | undefined;
}

function hfBackend(tokenizerJson: unknown, tokenizerConfig: Record<string, unknown>, tokenizerFile: string): Backend {
  if (!isObject(tokenizerJson) || !isObject(tokenizerJson.model)) {
    throw new CheckpointError(tokenizerFile, 'not a tokenizer.json: expected an object with a "model" field');
  }
  // The library indexes added_tokens unconditionally; older files may omit the list.
  const json = { added_tokens: [], ...tokenizerJson };
  let inner: Tokenizer;
  try {
    inner = new Tokenizer(json, tokenizerConfig);
  } catch (e) {
    throw new CheckpointError(tokenizerFile, `the tokenizer cannot be built from it: ${(e as Error).message}`);
  }
  return {
    encode: (text) => (text === '' ? [] : inner.encode(text, { add_special_tokens: false }).ids),
    encodeEmptyWithSpecials: () => inner.encode('').ids,
    // The library throws on an empty list.
    decode: (ids, skip) => (ids.length === 0 ? '' : inner.decode(ids, { skip_special_tokens: skip })),
    has: (id) => inner.id_to_token(id) !== undefined,
    maxId: () => {
      // A loop, not Math.max(...ids): a 160k-entry vocabulary is too many call arguments.
      let max = -1;
      for (const id of inner.get_vocab(true).values()) max = Math.max(max, id);
      return max;
    },
    specials: function* () {
      for (const [id, token] of inner.get_added_tokens_decoder()) if (token.special) yield [token.content, id];
    },
    idToToken: (id) => inner.id_to_token(id),
    tokenToId: (token) => inner.token_to_id(token),
  };
}

function tiktokenBackend(bpe: TiktokenBpe): Backend {
  return {
    encode: (text) => bpe.encode(text),
    encodeEmptyWithSpecials: () => [],
    decode: (ids, skip) => bpe.decode(ids, skip),
    has: (id) => bpe.has(id),
    maxId: () => bpe.maxId,
    specials: function* () {
      for (const [id, token] of bpe.specialTokens()) if (token.special) yield [token.content, id];
    },
    idToToken: (id) => bpe.idToToken(id),
    tokenToId: (token) => bpe.tokenToId(token),
  };
}

/**
 * A checkpoint's tokenizer, from tokenizer.json (`new TextTokenizer`) or tiktoken.model
 * (`TextTokenizer.fromTiktoken`). `encode` parses special-token text (`<｜User｜>`) into its single id, so a rendered
 * chat prompt encodes exactly as the model was trained on it.
 */
export class TextTokenizer {
  readonly bosId: number | null;
  readonly eosId: number | null;
  /** Number of ids the tokenizer knows: highest id + 1 (the embedding may have more, padded rows). */
  readonly vocabSize: number;
  /** Contents of the added tokens marked special, plus the config's `additional_special_tokens`. */
  readonly specialTokens: ReadonlySet<string>;
  readonly specialIds: ReadonlySet<number>;
  /** Whether `encode` adds BOS when not told otherwise. */
  readonly addsBosByDefault: boolean;
  readonly config: Readonly<TokenizerConfig>;
  readonly configFile: string;
  private readonly inner: Backend;

  /**
   * `tokenizerJson` is a parsed tokenizer.json, or (from fromTiktoken) an already parsed tiktoken vocabulary.
   */
  constructor(tokenizerJson: unknown, tokenizerConfig: unknown, sources: TokenizerSources = {}) {
    const tokenizerFile = sources.tokenizerFile ?? 'tokenizer.json';
    this.configFile = sources.configFile ?? 'tokenizer_config.json';
    if (!isObject(tokenizerConfig)) throw new CheckpointError(this.configFile, 'expected a JSON object');
    this.inner =
      tokenizerJson instanceof TiktokenBpe ? tiktokenBackend(tokenizerJson) : hfBackend(tokenizerJson, tokenizerConfig, tokenizerFile);
    this.config = tokenizerConfig;
    this.bosId = this.configTokenId('bos_token');
    this.eosId = this.configTokenId('eos_token');

    this.vocabSize = this.inner.maxId() + 1;

    const special = new Map<string, number>(this.inner.specials());
    const extra = tokenizerConfig.additional_special_tokens;
    for (const token of Array.isArray(extra) ? extra : []) {
      const content = tokenContent(token);
      const id = content === null ? undefined : this.inner.tokenToId(content);
      if (content !== null && id !== undefined) special.set(content, id);
    }
    this.specialTokens = new Set(special.keys());
    this.specialIds = new Set(special.values());

    // @huggingface/tokenizers ignores add_bos_token: it adds only what tokenizer.json's post_processor adds, and
    // DeepSeek's post_processor is a plain ByteLevel that adds nothing. Python's LlamaTokenizerFast rebuilds the
    // post-processor from add_bos_token, so BOS comes from the config. We always encode without the library's
    // special tokens and add BOS ourselves, which cannot double it; without add_bos_token in the config we
    // follow what the post-processor would have done.
    const configured = tokenizerConfig.add_bos_token;
    this.addsBosByDefault =
      typeof configured === 'boolean' ? configured : this.bosId !== null && this.inner.encodeEmptyWithSpecials()[0] === this.bosId;
    if (this.addsBosByDefault && this.bosId === null) {
      throw new CheckpointError(this.configFile, 'add_bos_token is set but bos_token is missing or not in the vocabulary');
    }
  }

  /**
   * A tokenizer from a tiktoken.model's text (Moonlight, Kimi-K2) and tokenizer_config.json, whose
   * `added_tokens_decoder` lists the special tokens. `sources.tokenizerFile` labels the tiktoken.model.
   */
  static fromTiktoken(
    modelText: string,
    tokenizerConfig: unknown,
    sources: TokenizerSources = {},
    options: Pick<TiktokenOptions, 'pattern' | 'chunking'> = {},
  ): TextTokenizer {
    const configFile = sources.configFile ?? 'tokenizer_config.json';
    if (!isObject(tokenizerConfig)) throw new CheckpointError(configFile, 'expected a JSON object');
    const file = sources.tokenizerFile ?? 'tiktoken.model';
    const bpe = tiktokenFromConfig(modelText, tokenizerConfig, configFile, { ...options, file });
    return new TextTokenizer(bpe, tokenizerConfig, sources);
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') throw new InputError('text', `expected a string, got ${typeof text}`);
    const addBos = options.addBos ?? this.addsBosByDefault;
    if (addBos && this.bosId === null) throw new InputError('addBos', `${this.configFile} defines no bos_token`);
    const ids = this.inner.encode(text);
    return addBos ? [this.bosId as number, ...ids] : ids;
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    for (let i = 0; i < ids.length; i++) {
      // The library silently drops ids it does not know; an unknown id here is a caller bug worth naming.
      if (!Number.isInteger(ids[i]) || !this.inner.has(ids[i])) {
        throw new InputError('ids', `token id ${ids[i]} at index ${i} is not in the tokenizer (vocab size ${this.vocabSize})`);
      }
    }
    return this.inner.decode(ids as number[], options.skipSpecialTokens ?? false);
  }

  /** A decoder for ids arriving one at a time that never emits half a UTF-8 character. */
  streamDecoder(options: DecodeOptions = {}): StreamingDecoder {
    return new StreamingDecoder((ids) => this.decode(ids, options));
  }

  /** The vocabulary string of an id (byte-level form, e.g. 'Ġthe'), or undefined when out of range. */
  idToToken(id: number): string | undefined {
    return this.inner.idToToken(id);
  }

  tokenToId(token: string): number | undefined {
    return this.inner.tokenToId(token);
  }

  private configTokenId(field: 'bos_token' | 'eos_token'): number | null {
    const content = tokenContent(this.config[field]);
    if (content === null) return null;
    const id = this.inner.tokenToId(content);
    if (id === undefined) throw new CheckpointError(this.configFile, `${field} '${content}' is not in the vocabulary`);
    return id;
  }
}

/**
 * The text of a tokenizer_config.json token field, which is either a plain string or a serialised AddedToken
 * (`{"__type": "AddedToken", "content": ...}`); null when absent.
 */
export function tokenContent(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (isObject(value) && typeof value.content === 'string') return value.content;
  return null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
