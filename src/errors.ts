// Every error the engine throws on purpose names what was wrong and where: the file, tensor, config field,
// GPU limit or argument. Callers can branch on the class; users read the message.

/** A config.json field is missing, malformed or unsupported. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly field: string,
    detail: string,
    readonly file?: string,
  ) {
    super(`${file ? `${file}: ` : ''}config field '${field}': ${detail}`);
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
    super(`${file}${tensor ? ` (tensor '${tensor}')` : ''}: ${detail}`);
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
