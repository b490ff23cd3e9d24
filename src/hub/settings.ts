// Where the Hugging Face cache is, which hub to ask, the token and offline mode, from the same environment
// variables huggingface_hub reads, with the same precedence, so that a model downloaded by transformers or
// vLLM is found here and ours is found there:
//   cache:    HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub, HF_HOME defaulting to
//             $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface
//   endpoint: HF_ENDPOINT, else https://huggingface.co
//   token:    HF_TOKEN, else the file HF_TOKEN_PATH, else $HF_HOME/token (written by `hf auth login`)
//   offline:  HF_HUB_OFFLINE set to 1, ON, YES or TRUE (any case)
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface HubSettings {
  /** The hub cache folder holding models--owner--name folders. */
  cacheDir: string;
  /** The hub's base URL, without a trailing slash. */
  endpoint: string;
  /** Sent as `Authorization: Bearer` to the endpoint's origin only; never printed. */
  token?: string;
  /** Resolve from the cache alone, with no network request. */
  offline: boolean;
}

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

type Env = Record<string, string | undefined>;

export function hubSettings(env: Env = process.env, overrides: Partial<HubSettings> = {}): HubSettings {
  const home = expandHome(set(env.HF_HOME) ?? join(set(env.XDG_CACHE_HOME) ?? join(homedir(), '.cache'), 'huggingface'));
  const cacheDir = expandHome(set(env.HF_HUB_CACHE) ?? set(env.HUGGINGFACE_HUB_CACHE) ?? join(home, 'hub'));
  const endpoint = (set(env.HF_ENDPOINT) ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
  const token = set(env.HF_TOKEN) ?? tokenFile(expandHome(set(env.HF_TOKEN_PATH) ?? join(home, 'token')));
  const offline = ['1', 'ON', 'YES', 'TRUE'].includes((env.HF_HUB_OFFLINE ?? '').trim().toUpperCase());
  return { cacheDir, endpoint, token, offline, ...definedOnly(overrides) };
}

function set(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path;
}

function tokenFile(path: string): string | undefined {
  try {
    return set(readFileSync(path, 'utf8').trim());
  } catch {
    return undefined;
  }
}

function definedOnly<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Partial<T>;
}
