// createGpu(): the one place where an adapter is chosen and device limits and features are requested.
// Browser-safe: no Node imports. In Node, src/gpu/node-webgpu.ts supplies the GPU object (`gpu` option).
// Everything hangs off the returned Gpu; there is no module-level device.

import { GpuError, GpuLimitError } from '../errors.ts';

type LimitName = keyof GPUSupportedLimits & string;

/** Limits requested at the adapter's maximum: the engine sizes buffers and workgroups from what the device has. */
const MAXED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
] as const satisfies readonly LimitName[];

/** Enabled whenever the adapter has them; kernels check `gpu.features` before using them. */
const WANTED_FEATURES = ['subgroups', 'timestamp-query', 'shader-f16'] as const;

/** Uncaptured errors kept on `Gpu.errors` (the oldest are dropped) and printed before going quiet. */
const KEPT_ERRORS = 100;
const PRINTED_ERRORS = 10;

export interface GpuOptions {
  /** Limits the caller needs; a value the adapter can't meet throws GpuLimitError. */
  requiredLimits?: Partial<Record<LimitName, number>>;
  /** Passed to requestAdapter(): 'high-performance' picks a discrete GPU where there are two. Default: the browser's choice. */
  powerPreference?: GPUPowerPreference;
  /** The WebGPU entry point; defaults to `navigator.gpu`. In Node pass getNodeGpu() (or use createNodeGpu). */
  gpu?: GPU;
  /** What the caller knows about the native backend (e.g. 'Vulkan'), when the adapter doesn't say. */
  backend?: string;
  /** Shown in error messages and used as the device label. */
  label?: string;
}

export interface GpuAdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  /** e.g. 'Vulkan (SwiftShader)'; undefined when unknown (browsers don't say). */
  backend?: string;
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
}

export interface UncapturedGpuError {
  kind: 'validation' | 'out-of-memory' | 'internal' | 'unknown';
  message: string;
  /** `gpu.context` at the time the error was reported (errors arrive asynchronously, so it is approximate). */
  context?: string;
}

export interface Gpu {
  readonly device: GPUDevice;
  readonly adapter: GPUAdapter;
  readonly adapterInfo: GpuAdapterSummary;
  /** Features enabled on the device, sorted. */
  readonly features: readonly string[];
  /** The device's limits (what was granted, which is what kernels may use). */
  readonly limits: GPUSupportedLimits;
  /** Uncaptured validation / OOM / internal errors seen so far (last KEPT_ERRORS). */
  readonly errors: UncapturedGpuError[];
  /** Set while a phase runs ('upload weights', 'decode step 12'); attached to uncaptured errors. */
  context: string | undefined;
  /** Resolves when the device is lost, including by destroy() (reason 'destroyed'). */
  readonly lost: Promise<GPUDeviceLostInfo>;
  /** Runs `fn` inside validation + out-of-memory error scopes and throws GpuError naming `context` if either fired. */
  captureErrors<T>(context: string, fn: () => T | Promise<T>): Promise<T>;
  destroy(): void;
}

/** Requests an adapter and a device with the adapter's maximum limits and the useful optional features. */
export async function createGpu(options: GpuOptions = {}): Promise<Gpu> {
  const label = options.label ?? 'deepseek-webgpu';
  const entry = options.gpu ?? (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!entry) throw new GpuError(`${label}: WebGPU is not available here (no navigator.gpu). ${adapterHint()}`);

  const adapter = await entry.requestAdapter(
    options.powerPreference ? { powerPreference: options.powerPreference } : undefined,
  );
  if (!adapter) throw new GpuError(`${label}: no WebGPU adapter found. ${adapterHint()}`);

  const requiredLimits = requestedLimits(adapter.limits, options.requiredLimits ?? {});
  const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f));
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ label, requiredLimits, requiredFeatures });
  } catch (err) {
    const asked = `limits ${JSON.stringify(requiredLimits)}, features [${requiredFeatures.join(', ')}]`;
    throw new GpuError(`${label}: requestDevice failed (${asked}): ${(err as Error)?.message ?? err}`);
  }

  const adapterInfo = summarizeAdapter(adapter, options.backend);
  const errors: UncapturedGpuError[] = [];
  let destroyed = false;
  let printed = 0;

  const gpu: Gpu = {
    device,
    adapter,
    adapterInfo,
    features: [...device.features].sort(),
    limits: device.limits,
    errors,
    context: undefined,
    lost: device.lost,
    captureErrors: (context, fn) => captureErrors(device, label, context, fn),
    destroy() {
      if (destroyed) return;
      destroyed = true;
      device.destroy();
    },
  };

  device.lost.then((info) => {
    if (info.reason === 'destroyed' || destroyed) return;
    const at = gpu.context ? ` during '${gpu.context}'` : '';
    console.error(
      `${label}: WebGPU device lost${at} (reason: ${info.reason}): ${info.message || 'no message'}. ` +
        `Every buffer and pipeline of this device is gone; create a new Gpu to continue.`,
    );
  });

  device.addEventListener('uncapturederror', (event) => {
    const { error } = event as GPUUncapturedErrorEvent;
    // We print it ourselves, with context; this stops the implementation's own copy (Dawn prints to stdout).
    event.preventDefault();
    const record: UncapturedGpuError = { kind: errorKind(error), message: error.message.trimEnd(), context: gpu.context };
    errors.push(record);
    if (errors.length > KEPT_ERRORS) errors.shift();
    printed++;
    if (printed <= PRINTED_ERRORS) {
      const at = record.context ? ` during '${record.context}'` : '';
      console.error(`${label}: uncaptured WebGPU ${record.kind} error${at}: ${record.message}`);
    }
    if (printed === PRINTED_ERRORS) console.error(`${label}: further uncaptured errors are recorded in gpu.errors only`);
  });

  return gpu;
}

/** Adapter maxima for MAXED_LIMITS plus the caller's requirements, each checked against the adapter. */
function requestedLimits(
  adapterLimits: GPUSupportedLimits,
  required: Partial<Record<LimitName, number>>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of MAXED_LIMITS) out[name] = adapterLimits[name];
  for (const [name, value] of Object.entries(required) as [LimitName, number | undefined][]) {
    if (value === undefined) continue;
    const available = adapterLimits[name];
    if (typeof available !== 'number') {
      throw new GpuError(`GPU limit ${name}: required ${value}, but this WebGPU implementation has no such limit`);
    }
    // 'min*' limits (alignments) are better when smaller; all others when larger.
    const better = name.startsWith('min') ? value >= available : value <= available;
    if (!better) throw new GpuLimitError(name, value, available, 'createGpu({ requiredLimits })');
    if (name.startsWith('min') || !(name in out)) out[name] = value;
  }
  return out;
}

function summarizeAdapter(adapter: GPUAdapter, backend: string | undefined): GpuAdapterSummary {
  const info = adapter.info;
  // isFallbackAdapter moved from GPUAdapter to GPUAdapterInfo; older implementations have it on the adapter.
  const legacy = adapter as GPUAdapter & { isFallbackAdapter?: boolean };
  const extra = info as GPUAdapterInfo & { isFallbackAdapter?: boolean; subgroupMinSize?: number; subgroupMaxSize?: number };
  const swiftshader = info.architecture === 'swiftshader' || /swiftshader/i.test(info.description);
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    isFallbackAdapter: Boolean(extra.isFallbackAdapter ?? legacy.isFallbackAdapter),
    // SwiftShader is a Vulkan driver; other backends only the caller knows (from the platform).
    backend: swiftshader ? `${backend ?? 'Vulkan'} (SwiftShader)` : backend,
    subgroupMinSize: extra.subgroupMinSize,
    subgroupMaxSize: extra.subgroupMaxSize,
  };
}

async function captureErrors<T>(
  device: GPUDevice,
  label: string,
  context: string,
  fn: () => T | Promise<T>,
): Promise<T> {
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let outcome: { ok: true; value: T } | { ok: false; thrown: unknown };
  try {
    outcome = { ok: true, value: await fn() };
  } catch (thrown) {
    outcome = { ok: false, thrown };
  }
  // Pop both scopes even when fn threw, so the device's scope stack stays balanced (innermost first).
  const [validation, oom] = await Promise.all([device.popErrorScope(), device.popErrorScope()]);
  if (!outcome.ok) throw outcome.thrown;
  const error = validation ?? oom;
  if (error) throw new GpuError(`${label}: WebGPU ${errorKind(error)} error in '${context}': ${error.message.trimEnd()}`);
  return outcome.value;
}

function errorKind(error: GPUError): UncapturedGpuError['kind'] {
  const name = error.constructor?.name;
  if (name === 'GPUValidationError') return 'validation';
  if (name === 'GPUOutOfMemoryError') return 'out-of-memory';
  if (name === 'GPUInternalError') return 'internal';
  return 'unknown';
}

/** What to do when there is no adapter; in Node on Linux that is the SwiftShader setup. */
function adapterHint(): string {
  const proc = (globalThis as { process?: { platform?: string; versions?: { node?: string } } }).process;
  if (proc?.versions?.node && proc.platform === 'linux') {
    return (
      'On a machine without a GPU driver, install the SwiftShader fallback: ' +
      '`node tools/setup-swiftshader.mjs` in the deepseek-webgpu package ' +
      '(if that fails: `sudo apt-get install chromium-common libvulkan1`, then run it again).'
    );
  }
  if (proc?.versions?.node) return 'Check that the GPU driver is installed.';
  return 'Use a browser with WebGPU enabled (Chrome/Edge 113+, or Chromium with --enable-unsafe-webgpu).';
}
