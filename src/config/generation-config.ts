// generation_config.json: how a model's authors want it decoded (DeepSeek's releases: do_sample with
// temperature 0.6, top-p 0.95). transformers and vLLM apply it unless the caller overrides a setting, so
// the same checkpoint decodes alike here. The file is optional; a folder without it decodes greedily.
// Fields are read as transformers reads them: without do_sample: true the sampling fields do not apply.
// Unlike transformers, no built-in default (its top_k 50) is added to what the file states, as vLLM does.
import type { FolderSource } from '../checkpoint/byte-source.ts';
import { ConfigError } from '../errors.ts';
import { parseJsonText } from '../json-text.ts';
import { readFields } from './fields.ts';

export const GENERATION_CONFIG_FILE = 'generation_config.json';

/** Settings the model's generation_config.json gives; a field it leaves out is absent here too. */
export interface GenerationDefaults {
  /** The file they came from; null when the folder has none (then every field is absent). */
  readonly source: string | null;
  /** 0 when do_sample is false: greedy. */
  readonly temperature?: number;
  /** top_k (0 = off). */
  readonly topK?: number;
  /** top_p (1 = off). */
  readonly topP?: number;
  /** min_p (0 = off). */
  readonly minP?: number;
  /** repetition_penalty (1 = off). */
  readonly repetitionPenalty?: number;
  /** max_new_tokens: the generation budget. */
  readonly maxNewTokens?: number;
  /** Prompt plus generated tokens; only given when max_new_tokens is not (transformers' precedence). */
  readonly maxLength?: number;
  /** Ends generation in place of config.json's eos_token_id (chat models list their end-of-turn id here). */
  readonly eosTokenIds?: readonly number[];
  /** bos_token_id, in place of config.json's. */
  readonly bosTokenId?: number;
}

export const NO_GENERATION_DEFAULTS: GenerationDefaults = Object.freeze({ source: null });

// Loose enough for any released file, tight enough that a typo (temperature 60) is caught.
const MAX_TEMPERATURE = 100;
const MAX_PENALTY = 100;
const MAX_TOKENS = 2 ** 31 - 1;

/** Validates a parsed generation_config.json; `file` is named in every ConfigError. Unknown fields are ignored. */
export function parseGenerationConfig(json: unknown, file: string, vocabSize: number): GenerationDefaults {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ConfigError('(root)', 'expected a JSON object', file);
  const f = readFields(json as Record<string, unknown>, file);
  const optional = (v: number | null) => (v === null ? undefined : v);
  // Every field is checked even when do_sample leaves it unused: a bad value is a bad file either way.
  const doSample = f.bool('do_sample', false);
  const temperature = optional(f.number('temperature', { min: 0, max: MAX_TEMPERATURE, default: null, nullAs: null }));
  const topK = optional(f.int('top_k', { min: 0, max: MAX_TOKENS, default: null, nullAs: null }));
  const topP = optional(f.number('top_p', { over: 0, max: 1, default: null, nullAs: null }));
  const minP = optional(f.number('min_p', { min: 0, under: 1, default: null, nullAs: null }));
  const repetitionPenalty = optional(f.number('repetition_penalty', { over: 0, max: MAX_PENALTY, default: null, nullAs: null }));
  const maxNewTokens = optional(f.int('max_new_tokens', { min: 0, max: MAX_TOKENS, default: null, nullAs: null }));
  const maxLength = optional(f.int('max_length', { min: 1, max: MAX_TOKENS, default: null, nullAs: null }));
  const eos = f.tokenIds('eos_token_id', vocabSize);
  const bosTokenId = optional(f.int('bos_token_id', { min: 0, max: vocabSize - 1, default: null, nullAs: null }));

  const d: { -readonly [K in keyof GenerationDefaults]: GenerationDefaults[K] } = { source: file };
  if (doSample) {
    // transformers samples at temperature 1 when the file turns sampling on without naming one.
    d.temperature = temperature ?? 1;
    if (topK !== undefined) d.topK = topK;
    if (topP !== undefined) d.topP = topP;
    if (minP !== undefined) d.minP = minP;
  } else if ((json as Record<string, unknown>).do_sample === false) {
    d.temperature = 0;
  }
  if (repetitionPenalty !== undefined) d.repetitionPenalty = repetitionPenalty; // applies to greedy decoding too
  if (maxNewTokens !== undefined) d.maxNewTokens = maxNewTokens;
  else if (maxLength !== undefined) d.maxLength = maxLength;
  if (eos.length > 0) d.eosTokenIds = eos;
  if (bosTokenId !== undefined) d.bosTokenId = bosTokenId;
  return Object.freeze(d);
}

/** The folder's generation_config.json, validated; NO_GENERATION_DEFAULTS when there is none. */
export async function loadGenerationDefaults(folder: FolderSource, vocabSize: number): Promise<GenerationDefaults> {
  if (!(await folder.exists(GENERATION_CONFIG_FILE))) return NO_GENERATION_DEFAULTS;
  const file = `${folder.name}/${GENERATION_CONFIG_FILE}`;
  const json = parseJsonText(await folder.readText(GENERATION_CONFIG_FILE), (detail) => {
    throw new ConfigError('(root)', detail, file);
  });
  return parseGenerationConfig(json, file, vocabSize);
}

/** The sampling settings a generation uses: the caller's where given (an explicit undefined counts as not given), else the model's. */
export interface SamplingInUse {
  /** 0 = greedy. */
  temperature: number;
  /** 0 = off. */
  topK: number;
  /** 1 = off. */
  topP: number;
  /** 0 = off. */
  minP: number;
  /** 1 = off. */
  repetitionPenalty: number;
  /** Settings taken from generation_config.json rather than from the caller. */
  fromModel: string[];
}

type SamplingKey = 'temperature' | 'topK' | 'topP' | 'minP' | 'repetitionPenalty';
const OFF: Record<SamplingKey, number> = { temperature: 0, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1 };
const LABEL: Record<SamplingKey, string> = { temperature: 'temperature', topK: 'top-k', topP: 'top-p', minP: 'min-p', repetitionPenalty: 'repetition penalty' };

export function samplingInUse(explicit: Partial<Record<SamplingKey, number | undefined>>, defaults: GenerationDefaults): SamplingInUse {
  const fromModel: string[] = [];
  const pick = (key: SamplingKey): number => {
    if (explicit[key] !== undefined) return explicit[key];
    if (defaults[key] !== undefined) {
      fromModel.push(key);
      return defaults[key];
    }
    return OFF[key];
  };
  return { temperature: pick('temperature'), topK: pick('topK'), topP: pick('topP'), minP: pick('minP'), repetitionPenalty: pick('repetitionPenalty'), fromModel };
}

/**
 * One line for people: "temperature 0.6, top-p 0.95 (generation_config.json)", "greedy", or, when some
 * settings are the caller's, "temperature 0.8, top-p 0.95 (top-p from generation_config.json)". Settings
 * that are off are left out; under greedy decoding only the repetition penalty still matters.
 */
export function describeSampling(s: SamplingInUse, source: string | null): string {
  const greedy = s.temperature === 0;
  const keys = (Object.keys(OFF) as SamplingKey[]).filter((k) => (k === 'temperature' ? true : s[k] !== OFF[k] && (!greedy || k === 'repetitionPenalty')));
  const text = (k: SamplingKey) => (k === 'temperature' && greedy ? 'greedy' : `${LABEL[k]} ${s[k]}`);
  const fromModel = keys.filter((k) => s.fromModel.includes(k));
  const file = source?.split('/').pop() ?? GENERATION_CONFIG_FILE;
  const listed = keys.map(text).join(', ');
  if (fromModel.length === 0) return listed;
  if (fromModel.length === keys.length) return `${listed} (${file})`;
  return `${listed} (${fromModel.map((k) => (k === 'temperature' && greedy ? 'greedy' : LABEL[k])).join(', ')} from ${file})`;
}
