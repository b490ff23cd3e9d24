// Every error the engine throws on purpose names what was wrong and where: the file, tensor, config field,
// GPU limit or argument. Callers can branch on the class; users read the message.
//
// Messages often quote what a file or caller supplied (tensor names, shard names, field values, dtypes). A
// hostile file can make those megabytes long or nested a million deep, so everything quoted goes through
// excerpt(): bounded length, bounded depth, no recursion on the input's nesting.

/** Longest quotation of input an error message holds, ellipsis included. */
export const MAX_QUOTED_CHARS = 120;

/** `value` as an error message quotes it: strings in single quotes, control characters escaped, cut to `max`. */
export function excerpt(value: unknown, max = MAX_QUOTED_CHARS): string {
  const text = render(value, 3, max);
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Stops as soon as `budget` characters are produced, so huge arrays and objects cost little. */
function render(value: unknown, depth: number, budget: number): string {
  if (typeof value === 'string') return `'${escapeControls(value.length > budget ? value.slice(0, budget) : value)}'`;
  if (value === null || typeof value !== 'object') return String(value);
  if (depth === 0) return Array.isArray(value) ? '[…]' : '{…}';
  const array = Array.isArray(value);
  const parts: string[] = [];
  let used = 2;
  for (const key in value) {
    if (used > budget) {
      parts.push('…');
      break;
    }
    const item = render((value as Record<string, unknown>)[key], depth - 1, budget - used);
    const part = array ? item : `${escapeControls(key.slice(0, budget))}: ${item}`;
    parts.push(part);
    used += part.length + 2;
  }
  return array ? `[${parts.join(', ')}]` : `{${parts.join(', ')}}`;
}

function escapeControls(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => JSON.stringify(c).slice(1, -1));
}

/** A config.json field is missing, malformed or unsupported. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly field: string,
    detail: string,
    readonly file?: string,
  ) {
    super(`${file ? `${file}: ` : ''}config field ${excerpt(field)}: ${detail}`);
  }
}

/** A checkpoint file (safetensors shard, index) is unreadable, truncated or inconsistent. */
export class CheckpointError extends Error {
  override name = 'CheckpointError';
  constructor(
    readonly file: string,
    detail: string,
    readonly tensor?: string,
  ) {
    super(`${file}${tensor !== undefined ? ` (tensor ${excerpt(tensor)})` : ''}: ${detail}`);
  }
}

/** No WebGPU adapter, or one that lacks a limit or feature the model needs. */
export class GpuError extends Error {
  override name = 'GpuError';
}

/** A device limit is below what is required. */
export class GpuLimitError extends GpuError {
  override name = 'GpuLimitError';
  constructor(
    readonly limit: string,
    readonly required: number,
    readonly available: number,
    why: string,
  ) {
    super(`GPU limit ${limit}: ${why} needs ${required}, the adapter allows ${available}`);
  }
}

/** A WGSL shader failed to compile or a kernel was called with inconsistent shapes. */
export class ShaderError extends Error {
  override name = 'ShaderError';
}

/** A caller-supplied argument (token id, prompt length, option) is out of range. */
export class InputError extends Error {
  override name = 'InputError';
  constructor(
    readonly argument: string,
    detail: string,
  ) {
    super(`${argument}: ${detail}`);
  }
}

/**
 * A model named by its Hugging Face id could not be resolved or downloaded: the hub refused it, a transfer
 * failed or did not match its checksum, or (offline) the cache lacks it. `target` is `owner/name` or
 * `owner/name/file`; the message never holds a token.
 */
export class HubError extends Error {
  override name = 'HubError';
  constructor(
    readonly target: string,
    readonly detail: string,
  ) {
    super(`${target}: ${detail}`);
  }
}
