// Launch profiles: which profile an adapter gets, that profiles respect device limits, and that every kernel
// takes its launch shape from the profile (none keeps one of its own). No GPU needed.
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { definedKernels, type KernelSpec } from './kernel.ts';
import { adapterKind, cpuProfile, genericGpuProfile, knob, profileFor, withKnobs, type AdapterFacts, type LaunchProfile } from './launch-profile.ts';
import { expandShader } from './shaders.ts';

const LIMITS = { maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupSizeX: 256 };
const adapter = (vendor: string, more: Partial<AdapterFacts> = {}): AdapterFacts => ({ vendor, architecture: '', device: '', description: '', isFallbackAdapter: false, ...more });

// Every kernel module, so definedKernels holds every kernel the engine has.
const kernelDir = new URL('../kernels/', import.meta.url);
for (const f of readdirSync(kernelDir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))) await import(new URL(f, kernelDir).href);

/** Knobs read outside a kernel's `launch` (by the model or a wrapper), each from the profile too. */
const READ_ELSEWHERE = ['mla-decode.TARGET_WORKGROUPS', 'sample-argmax.SPAN', 'matmul.SUBGROUPS', 'moe-group.MIN_PAIRS_PER_EXPERT'];
/** Override-constant names that are launch shapes wherever they appear. */
const LAUNCH_NAMES = ['WG_SIZE', 'PER_THREAD', 'ROWS'];

function shaderOverrides(shader: string): string[] {
  const code = expandShader(shader, { FP8: true }).code;
  return [...code.matchAll(/^\s*override\s+(\w+)\s*:/gm)].map((m) => m[1]);
}

/** Runs spec.launch with params all equal to `value`, recording the knobs it reads. */
function launchWith(spec: KernelSpec<string, string, string, string>, profile: LaunchProfile, value: number, read?: Set<string>) {
  const p = Object.fromEntries(Object.keys(spec.params).map((n) => [n, value]));
  return spec.launch!((name) => {
    read?.add(`${spec.shader}.${name}`);
    return knob(profile, spec.shader, name);
  }, p);
}

/** Every knob times two (still powers of two where they were). */
function doubled(profile: LaunchProfile): LaunchProfile {
  const changes = Object.fromEntries(Object.entries(profile.knobs).map(([k, v]) => [k, Object.fromEntries(Object.entries(v).map(([n, x]) => [n, 2 * x]))]));
  return withKnobs(profile, changes, 'doubled');
}

describe('adapter profiles', () => {
  it('picks the CPU profile for software adapters and a GPU profile by vendor', () => {
    expect(adapterKind(adapter('google', { architecture: 'swiftshader', isFallbackAdapter: true }))).toBe('cpu');
    expect(adapterKind(adapter('mesa', { description: 'llvmpipe (LLVM 15.0.7, 256 bits)' }))).toBe('cpu');
    expect(adapterKind(adapter('nvidia', { architecture: 'ampere' }))).toBe('gpu-discrete');
    expect(adapterKind(adapter('amd', { architecture: 'rdna-3' }))).toBe('gpu-discrete');
    expect(adapterKind(adapter('intel', { architecture: 'gen-12lp' }))).toBe('gpu-integrated');
    expect(adapterKind(adapter('intel', { architecture: 'xe-hpg', description: 'Intel(R) Arc(TM) A770 Graphics' }))).toBe('gpu-discrete');
    expect(adapterKind(adapter('apple', { architecture: 'metal-3' }))).toBe('gpu-integrated');
    expect(adapterKind(adapter('qualcomm'))).toBe('gpu-integrated');
  });

  it('keeps the CPU profile at its measured values (attention split over the cores)', () => {
    const p = cpuProfile(6);
    expect(knob(p, 'rmsnorm', 'WG_SIZE')).toBe(4);
    expect(knob(p, 'kv-append', 'WG_SIZE')).toBe(4);
    expect(p.knobs.matmul).toEqual({ WG_SIZE: 64, WG_MIN: 4, MIN_WORKGROUPS: 16, ROWS: 8, SUBGROUPS: 1 });
    expect(p.knobs['mla-decode']).toEqual({ WG_MULTIPLE: 4, TARGET_WORKGROUPS: 6 });
    expect(knob(p, 'sample-argmax', 'SPAN')).toBe(16384);
    expect(profileFor(adapter('google', { architecture: 'swiftshader', isFallbackAdapter: true }), LIMITS).name).toBe('cpu');
  });

  it('sizes GPU workgroups in SIMD groups: reported subgroup size, else the vendor\'s', () => {
    expect(knob(profileFor(adapter('amd'), LIMITS), 'mla-decode', 'WG_MULTIPLE')).toBe(64);
    expect(knob(profileFor(adapter('nvidia'), LIMITS), 'mla-decode', 'WG_MULTIPLE')).toBe(32);
    expect(knob(profileFor(adapter('intel', { subgroupMinSize: 8, subgroupMaxSize: 32 }), LIMITS), 'mla-decode', 'WG_MULTIPLE')).toBe(32);
    expect(knob(profileFor(adapter('arm'), LIMITS), 'moe-down', 'WG_MULTIPLE')).toBe(16);
    expect(profileFor(adapter('intel'), LIMITS).name).toBe('gpu-integrated');
    expect(knob(profileFor(adapter('nvidia'), LIMITS), 'mla-decode', 'TARGET_WORKGROUPS')).toBeGreaterThan(knob(profileFor(adapter('intel'), LIMITS), 'mla-decode', 'TARGET_WORKGROUPS'));
  });

  it('caps every workgroup size at the device limit (a power of two below it)', () => {
    const p = profileFor(adapter('nvidia'), { maxComputeInvocationsPerWorkgroup: 128, maxComputeWorkgroupSizeX: 192 });
    for (const [kernel, knobs] of Object.entries(p.knobs)) {
      for (const [name, v] of Object.entries(knobs)) if (name.startsWith('WG_') && name !== 'WG_MULTIPLE') expect(v, `${kernel}.${name}`).toBeLessThanOrEqual(128);
    }
    expect(knob(p, 'rmsnorm', 'WG_SIZE')).toBe(128);
  });

  it('refuses an unknown knob, read or changed, naming it', () => {
    expect(() => knob(cpuProfile(), 'rmsnorm', 'TILE')).toThrow(/'cpu' has no knob 'rmsnorm.TILE'/);
    expect(() => withKnobs(cpuProfile(), { matmul: { TILE: 4 } })).toThrow(/no knob 'matmul.TILE'/);
    expect(() => withKnobs(cpuProfile(), { matmul: { ROWS: 1.5 } })).toThrow(/non-negative integer/);
  });
});

describe('every kernel launches as its profile says', () => {
  const kernels = [...new Map(definedKernels.map((s) => [s.shader, s])).values()];
  const profiles = [cpuProfile(), genericGpuProfile(LIMITS)];

  it('found the kernels', () => expect(kernels.length).toBeGreaterThanOrEqual(20));

  it.each(kernels.map((s) => [s.shader, s] as const))('%s: launch constants come from its knobs, nothing else', (_, spec) => {
    const declared = shaderOverrides(spec.shader);
    const plain = Object.keys(spec.overrides);
    // A launch shape is never a plain override (a default the wrapper carries and callers replace).
    expect(plain.filter((n) => LAUNCH_NAMES.includes(n)), 'launch shapes among plain overrides').toEqual([]);
    const launched = spec.launch ? Object.keys(launchWith(spec, profiles[0], 4100)) : [];
    // Every override constant of the shader is set, as plain or as launch: none is left at the shader's default.
    expect(declared.filter((n) => !plain.includes(n) && !launched.includes(n)), 'shader overrides left at their default').toEqual([]);
    if (!spec.launch) return;
    // The knobs decide: changing them changes the launch (4100: not a multiple of any workgroup size).
    expect(launchWith(spec, doubled(profiles[0]), 4100)).not.toEqual(launchWith(spec, profiles[0], 4100));
  });

  it('each profile has every knob the kernels read, and no knob nobody reads', () => {
    for (const profile of profiles) {
      const read = new Set(READ_ELSEWHERE);
      for (const spec of kernels) if (spec.launch) for (const v of [1, 7, 64, 4100]) launchWith(spec, profile, v, read);
      const has = Object.entries(profile.knobs).flatMap(([k, v]) => Object.keys(v).map((n) => `${k}.${n}`));
      expect(has.sort(), profile.name).toEqual([...read].sort());
    }
  });
});
