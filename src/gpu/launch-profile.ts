// Launch profiles: the one place that decides every kernel's launch shape (workgroup sizes, rows per thread,
// split counts, subgroup use) for an adapter. A profile is a table of knobs per kernel; a kernel declares
// which override constants are launch constants (defineKernel's `launch`) and derives them from its knobs,
// so no wrapper carries a launch shape of its own. The choices and their reasons: docs/launch-profiles.md.
import { ShaderError } from '../errors.ts';
import type { GpuAdapterSummary } from './device.ts';

/** Knob values by kernel (the shader stem: 'matmul', 'rmsnorm', ...) and knob name. */
export type LaunchKnobs = Readonly<Record<string, Readonly<Record<string, number>>>>;

export interface LaunchProfile {
  /** 'cpu', 'gpu-discrete', 'gpu-integrated', or a tuned profile's base name + ' (tuned)'. */
  readonly name: string;
  readonly knobs: LaunchKnobs;
}

/** The profile kinds a caller may ask for by name (bench --profile, tests). */
export type ProfileKind = 'cpu' | 'gpu-discrete' | 'gpu-integrated';

/** Reads kernel `kernel`'s knob `name`; a profile that lacks it is a ShaderError naming both. */
export function knob(profile: LaunchProfile, kernel: string, name: string): number {
  const v = profile.knobs[kernel]?.[name];
  if (v === undefined) throw new ShaderError(`launch profile '${profile.name}' has no knob '${kernel}.${name}'`);
  return v;
}

/** `profile` with some knobs replaced (tests, tune's candidates, ModelLoadOptions.attentionWorkgroups). */
export function withKnobs(profile: LaunchProfile, changes: Record<string, Record<string, number>>, name = profile.name): LaunchProfile {
  const knobs: Record<string, Record<string, number>> = {};
  for (const [k, v] of Object.entries(profile.knobs)) knobs[k] = { ...v };
  for (const [k, v] of Object.entries(changes)) {
    for (const [n, value] of Object.entries(v)) {
      if (knobs[k]?.[n] === undefined) throw new ShaderError(`launch profile '${profile.name}' has no knob '${k}.${n}' to change`);
      if (!Number.isInteger(value) || value < 0) throw new ShaderError(`launch knob '${k}.${n}' must be a non-negative integer, got ${value}`);
      knobs[k][n] = value;
    }
  }
  return { name, knobs };
}

/** Logical CPU cores (navigator.hardwareConcurrency in browsers and Node >= 21), 2 when unknown. */
export function cpuCores(): number {
  const n = (globalThis.navigator as Navigator | undefined)?.hardwareConcurrency;
  return Number.isInteger(n) && n! > 0 ? n! : 2;
}

/**
 * The CPU fallback (SwiftShader): each choice measured on it. SwiftShader runs one workgroup per core at a
 * time, in 4-lane subgroups, and a workgroup barrier costs ~25 µs per subgroup of the workgroup, so
 * reductions use one subgroup and splits go as far as the cores.
 */
export function cpuProfile(cores = cpuCores()): LaunchProfile {
  return {
    name: 'cpu',
    knobs: {
      // One 4-lane subgroup: 256 threads made a 256-wide row take 270 µs against 33 µs (shaders/rmsnorm.wgsl).
      rmsnorm: { WG_SIZE: 4 },
      // One subgroup: 84 -> 37 µs a row.
      'kv-append': { WG_SIZE: 4 },
      // WG_SIZE made no difference per weight (64 vs 4..32, 4096x4096); it halves (to WG_MIN) until the
      // dispatch has MIN_WORKGROUPS workgroups, to keep every core busy. ROWS: rows sharing each weight read.
      matmul: { WG_SIZE: 64, WG_MIN: 4, MIN_WORKGROUPS: 16, ROWS: 8, SUBGROUPS: 1 },
      // Each thread owns 8 latent columns; whole 4-lane subgroups, as few as cover kv_lora (barriers).
      // TARGET_WORKGROUPS: split the cached sequence only as far as the cores (2 splits on 2 cores: 0.55 ms
      // instead of 0.69 over 1000 cached rows, tiny-v3 widths).
      'mla-decode': { WG_MULTIPLE: 4, TARGET_WORKGROUPS: cores },
      'mla-merge': { WG_SIZE: 64 },
      'mla-absorb-q': { WG_SIZE: 64 },
      'mla-absorb-v': { WG_SIZE: 64 },
      'moe-route': { WG_SIZE: 64 },
      // Barriers cost per subgroup: 16 threads counted tiny-v3's 16 experts over 32 pairs in 0.17 ms against
      // 0.30 at 64 (256 pairs: 0.35 against 0.43). MIN_PAIRS_PER_EXPERT: the experts take the grouped path
      // (moe-group, then each expert's weights decoded once per tile of up to 4 pairs) from this many
      // (token, expert) pairs per expert on average.
      'moe-group': { WG_SIZE: 16, MIN_PAIRS_PER_EXPERT: 2 },
      // Decode path: the fewest workgroups of at most WG_SIZE threads, then as few threads as cover the
      // outputs in multiples of WG_MULTIPLE (a 64-wide group over 192 outputs wasted a quarter of its work).
      'moe-gate-up': { WG_SIZE: 64, WG_MULTIPLE: 4 },
      'moe-down': { WG_SIZE: 64, WG_MULTIPLE: 4 },
      // Grouped path: as the decode path, fitted to the outputs (tiny-v3's 192 rows took 256 at 64 threads).
      'moe-gate-up-grouped': { WG_SIZE: 64, WG_MULTIPLE: 4 },
      'moe-down-grouped': { WG_SIZE: 64, WG_MULTIPLE: 4 },
      'moe-combine': { WG_SIZE: 256 },
      'residual-add': { WG_SIZE: 256 },
      swiglu: { WG_SIZE: 256 },
      embed: { WG_SIZE: 256 },
      copy: { WG_SIZE: 256, PER_THREAD: 16 },
      // A workgroup costs ~15 µs of its own: a few long spans win (V3: 127 groups 2.4 ms, 8 groups 0.7 ms).
      // The samplers' reductions in as few subgroups as they allow (barriers cost per subgroup; sample-filter's 16
      // histogram columns need 16 threads): a 4096-logit row drawn at temperature 0.8 in 0.9 ms against 1.3-3.9
      // at 64 threads, its argmax in 0.16 against 0.25 ms (V3's 129280: 1.4 against 1.6 ms).
      'sample-argmax': { WG_SIZE: 4, SPAN: 16384 },
      'sample-argmax-merge': { WG_SIZE: 4 },
      'sample-filter': { WG_SIZE: 16 },
      'sample-draw': { WG_SIZE: 4 },
      'sample-penalty': { WG_SIZE: 64 },
    },
  };
}

/** What a GPU profile is built from: the SIMD width and how many workgroups fill the device. */
interface GpuTraits {
  kind: 'gpu-discrete' | 'gpu-integrated';
  /** Lanes of one SIMD group (subgroup): workgroup sizes are whole multiples of it. */
  simd: number;
}

/**
 * A GPU's defaults (docs/launch-profiles.md has the sources): reductions and elementwise kernels in 256-thread
 * workgroups, sizes in whole SIMD groups, attention split to several workgroups per compute unit.
 */
export function gpuProfile(traits: GpuTraits): LaunchProfile {
  const { kind, simd } = traits;
  const discrete = kind === 'gpu-discrete';
  return {
    name: kind,
    knobs: {
      rmsnorm: { WG_SIZE: 256 },
      'kv-append': { WG_SIZE: 128 },
      matmul: { WG_SIZE: 64, WG_MIN: Math.min(64, simd), MIN_WORKGROUPS: discrete ? 256 : 64, ROWS: 8, SUBGROUPS: 1 },
      'mla-decode': { WG_MULTIPLE: simd, TARGET_WORKGROUPS: discrete ? 256 : 64 },
      'mla-merge': { WG_SIZE: 256 },
      'mla-absorb-q': { WG_SIZE: 128 },
      'mla-absorb-v': { WG_SIZE: 128 },
      'moe-route': { WG_SIZE: 64 },
      'moe-group': { WG_SIZE: 256, MIN_PAIRS_PER_EXPERT: 2 },
      'moe-gate-up': { WG_SIZE: Math.max(64, simd), WG_MULTIPLE: simd },
      'moe-down': { WG_SIZE: Math.max(64, simd), WG_MULTIPLE: simd },
      'moe-gate-up-grouped': { WG_SIZE: Math.max(64, simd), WG_MULTIPLE: simd },
      'moe-down-grouped': { WG_SIZE: Math.max(64, simd), WG_MULTIPLE: simd },
      'moe-combine': { WG_SIZE: 256 },
      'residual-add': { WG_SIZE: 256 },
      swiglu: { WG_SIZE: 256 },
      embed: { WG_SIZE: 256 },
      copy: { WG_SIZE: 256, PER_THREAD: 4 },
      'sample-argmax': { WG_SIZE: 256, SPAN: 4096 },
      'sample-argmax-merge': { WG_SIZE: 64 },
      'sample-filter': { WG_SIZE: 64 },
      'sample-draw': { WG_SIZE: 64 },
      'sample-penalty': { WG_SIZE: 64 },
    },
  };
}

/** SIMD width by vendor when the adapter does not report its subgroup sizes. */
const VENDOR_SIMD: Record<string, number> = { nvidia: 32, amd: 64, intel: 16, apple: 32, arm: 16, qualcomm: 64 };
/** Vendors whose GPUs share the host's memory (unless the description names a discrete part). */
const INTEGRATED_VENDORS = new Set(['intel', 'apple', 'arm', 'qualcomm', 'imagination', 'img-tec']);
const DISCRETE_INTEL = /\barc\b|alchemist|battlemage|xe-hpg|dg2/i;

/** What profileFor reads of the adapter. */
export type AdapterFacts = Pick<GpuAdapterSummary, 'vendor' | 'architecture' | 'device' | 'description' | 'isFallbackAdapter' | 'subgroupMinSize' | 'subgroupMaxSize'>;

/** The adapter's kind: the CPU fallback, a discrete or an integrated GPU. */
export function adapterKind(info: AdapterFacts): ProfileKind {
  const vendor = info.vendor.toLowerCase();
  if (info.isFallbackAdapter || info.architecture.toLowerCase() === 'swiftshader' || /llvmpipe|lavapipe|warp/i.test(info.description)) return 'cpu';
  if (INTEGRATED_VENDORS.has(vendor) && !(vendor === 'intel' && DISCRETE_INTEL.test(`${info.architecture} ${info.description}`))) return 'gpu-integrated';
  return 'gpu-discrete';
}

/**
 * The profile for an adapter: the CPU profile on a software adapter, else the GPU defaults for its kind and
 * SIMD width, every workgroup size within the device's limits.
 */
export function profileFor(info: AdapterFacts, limits: Pick<GPUSupportedLimits, 'maxComputeInvocationsPerWorkgroup' | 'maxComputeWorkgroupSizeX'>, kind = adapterKind(info)): LaunchProfile {
  if (kind === 'cpu') return cpuProfile();
  const reported = info.subgroupMaxSize ?? info.subgroupMinSize;
  const simd = reported && reported >= 4 ? reported : (VENDOR_SIMD[info.vendor.toLowerCase()] ?? 32);
  return fitLimits(gpuProfile({ kind, simd: Math.min(simd, 64) }), limits);
}

/** Caps every WG_SIZE / WG_MIN / WG_MULTIPLE at the device's threads per workgroup (power-of-two sizes stay so). */
function fitLimits(profile: LaunchProfile, limits: Pick<GPUSupportedLimits, 'maxComputeInvocationsPerWorkgroup' | 'maxComputeWorkgroupSizeX'>): LaunchProfile {
  const max = Math.min(limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
  const cap = 2 ** Math.floor(Math.log2(max));
  const changes: Record<string, Record<string, number>> = {};
  for (const [kernel, knobs] of Object.entries(profile.knobs)) {
    for (const [name, v] of Object.entries(knobs)) {
      if (name.startsWith('WG_') && name !== 'WG_MULTIPLE' && v > cap) (changes[kernel] ??= {})[name] = cap;
    }
  }
  return withKnobs(profile, changes);
}

/** A named profile for this adapter: 'cpu', 'gpu' (the GPU default of its kind; discrete for a CPU adapter). */
export function namedProfile(name: 'cpu' | 'gpu', info: AdapterFacts, limits: Pick<GPUSupportedLimits, 'maxComputeInvocationsPerWorkgroup' | 'maxComputeWorkgroupSizeX'>): LaunchProfile {
  if (name === 'cpu') return cpuProfile();
  const kind = adapterKind(info);
  return kind === 'cpu' ? genericGpuProfile(limits) : profileFor(info, limits, kind);
}

/**
 * The discrete-GPU defaults for a 32-wide SIMD GPU of no particular vendor: what `--profile gpu` and the tests'
 * GPU profile run on a CPU adapter (whose 4-lane subgroups are not a GPU's).
 */
export function genericGpuProfile(limits: Pick<GPUSupportedLimits, 'maxComputeInvocationsPerWorkgroup' | 'maxComputeWorkgroupSizeX'>): LaunchProfile {
  return fitLimits(gpuProfile({ kind: 'gpu-discrete', simd: 32 }), limits);
}
