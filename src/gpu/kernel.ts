// defineKernel(): the only place dispatch boilerplate lives. A kernel declares its shader, its storage
// bindings (in @binding order), its uniform params (must equal the shader's `struct Params`, checked when
// the pipeline is first built), its override constants, a shape check and its dispatch grid.
// Model code then calls kernel.record(recorder, buffers, params).
//
// Override constants are of two kinds. `overrides` are what the computation is (top-k, block sizes,
// accumulate), with defaults a caller may replace. `launch` ones are how it is launched (workgroup size, rows
// per thread): derived from the kernel's knobs in the recorder's launch profile (src/gpu/launch-profile.ts)
// at every record, and a caller passing one is refused, so no wrapper can launch a kernel its own way.
import { ShaderError } from '../errors.ts';
import { knob } from './launch-profile.ts';
import type { BindingAccess, CachedPipeline, PipelineCache, PipelineKey } from './pipelines.ts';
import { asRange, type Bindable, type BufferRange, type Recorder } from './recorder.ts';

export type ParamType = 'u32' | 'i32' | 'f32';
export type Grid = [number, number?, number?];

/** Reads one of the kernel's knobs in the recorder's launch profile. */
export type KnobReader = (name: string) => number;

export interface KernelSpec<B extends string, P extends string, O extends string, L extends string = never> {
  /** Stem of shaders/<shader>.wgsl; also the kernel's name in launch profiles. */
  shader: string;
  bindings: Record<B, BindingAccess>;
  params: Record<P, ParamType>;
  /** Override constants that say what is computed, with their defaults. */
  overrides: Record<O, number>;
  /** Override constants that say how it is launched, from the profile's knobs for this kernel (and the params). */
  launch?: (knobs: KnobReader, p: Record<P, number>) => Record<L, number>;
  flags?: Record<string, boolean>;
  /** Throws (ShaderError via expectBytes/expect*) when buffers and params disagree. */
  check?: (buffers: Record<B, Bindable>, p: Record<P, number>, o: Record<O | L, number>) => void;
  grid: (p: Record<P, number>, o: Record<O | L, number>) => Grid;
}

export interface Kernel<B extends string, P extends string, O extends string, L extends string = never> {
  readonly spec: KernelSpec<B, P, O, L>;
  record(rec: Recorder, buffers: Record<B, Bindable>, params: Record<P, number>, overrides?: Partial<Record<O, number>>): void;
  /** The launch constants this kernel takes for `params` under the recorder's profile. */
  launchShape(rec: Recorder, params: Record<P, number>): Record<L, number>;
}

/** Every kernel defined so far (tests check that none keeps a launch shape among its plain overrides). */
export const definedKernels: KernelSpec<string, string, string, string>[] = [];

export function defineKernel<B extends string, P extends string, O extends string = never, L extends string = never>(
  spec: KernelSpec<B, P, O, L>,
): Kernel<B, P, O, L> {
  const bindingNames = Object.keys(spec.bindings) as B[];
  const paramNames = Object.keys(spec.params) as P[];
  const paramBytes = Math.ceil((paramNames.length * 4) / 16) * 16; // 4-byte scalars, struct padded to 16
  const verified = new WeakSet<object>();
  // This kernel's pipelines per cache, by override values: a decode step records ~80 dispatches, and building
  // the cache's JSON key for each took a quarter of the recording time.
  const overrideNames = Object.keys(spec.overrides) as O[];
  const pipelinesOf = new WeakMap<PipelineCache, Map<string, CachedPipeline>>();
  definedKernels.push(spec as unknown as KernelSpec<string, string, string, string>);
  const launchShape = (rec: Recorder, params: Record<P, number>): Record<L, number> =>
    spec.launch ? spec.launch((name) => knob(rec.profile, spec.shader, name), params) : ({} as Record<L, number>);

  return {
    spec,
    launchShape,
    record(rec, buffers, params, overrides) {
      const shape = launchShape(rec, params);
      if (overrides) {
        for (const name of Object.keys(overrides)) {
          if (name in shape) throw new ShaderError(`kernel '${spec.shader}': ${name} is a launch constant, set by the launch profile ('${rec.profile.name}'), not by the caller`);
        }
      }
      const o = { ...spec.overrides, ...overrides, ...shape } as Record<O | L, number>;
      spec.check?.(buffers, params, o);
      let known = pipelinesOf.get(rec.pipelines);
      if (!known) pipelinesOf.set(rec.pipelines, (known = new Map()));
      let values = overrideNames.map((n) => o[n]).join(',');
      for (const n in shape) values += `,${n}=${shape[n]}`;
      let pipeline = known.get(values);
      if (!pipeline) {
        const key: PipelineKey = {
          shader: spec.shader,
          bindings: bindingNames.map((b) => spec.bindings[b]),
          hasParams: paramNames.length > 0,
          overrides: o,
          flags: spec.flags ?? {},
        };
        pipeline = rec.pipelines.get(key);
        known.set(values, pipeline);
      }
      if (!verified.has(pipeline)) {
        verifyParamsStruct(spec.shader, pipeline.source.code, spec.params);
        verified.add(pipeline);
      }
      const packed = new DataView(new ArrayBuffer(paramBytes));
      paramNames.forEach((name, i) => {
        const v = params[name];
        if (v === undefined || !Number.isFinite(v)) throw new ShaderError(`kernel '${spec.shader}': param '${name}' is ${v}`);
        const type = spec.params[name];
        if (type === 'f32') packed.setFloat32(i * 4, v, true);
        else if (!Number.isInteger(v) || (type === 'u32' ? v < 0 || v > 0xffffffff : v < -(2 ** 31) || v >= 2 ** 31)) {
          throw new ShaderError(`kernel '${spec.shader}': param '${name}' = ${v} is not a valid ${type}`);
        } else if (type === 'u32') packed.setUint32(i * 4, v, true);
        else packed.setInt32(i * 4, v, true);
      });
      const [x, y = 1, z = 1] = spec.grid(params, o);
      const align = rec.device.limits.minStorageBufferOffsetAlignment;
      const ranges = bindingNames.map((name) => {
        const b = buffers[name];
        if (!b) throw new ShaderError(`kernel '${spec.shader}': binding '${name}' is missing`);
        return checkRange(spec.shader, name, asRange(b), align);
      });
      rec.dispatch(pipeline, ranges, new Uint8Array(packed.buffer), [x, y, z], spec.shader);
    },
  };
}

/** The TS params list must equal the shader's `struct Params` field for field: the one uniform layout. */
function verifyParamsStruct(shader: string, code: string, params: Record<string, ParamType>): void {
  const body = code.match(/struct\s+Params\s*\{([^}]*)\}/)?.[1];
  const expected = Object.entries(params).map(([n, t]) => `${n}: ${t}`);
  if (body === undefined) {
    if (expected.length) throw new ShaderError(`kernel '${shader}': the wrapper declares params but the shader has no struct Params`);
    return;
  }
  const fields = body
    .split('\n')
    .map((l) => l.replace(/\/\/.*$/, '').trim())
    .join(' ')
    .split(',')
    .map((f) => f.trim().replace(/\s+/g, ' ').replace(/ :/, ':'))
    .filter(Boolean);
  if (fields.join(', ') !== expected.join(', ')) {
    throw new ShaderError(`kernel '${shader}': struct Params is { ${fields.join(', ')} } but the wrapper declares { ${expected.join(', ')} }`);
  }
}

/**
 * What WebGPU requires of a storage binding, checked here so a bad range is a ShaderError naming the kernel
 * and binding when it is recorded (Dawn would only report an uncaptured validation error and drop the whole
 * command buffer). Row offsets belong in a kernel's params, with the whole buffer bound (see matmul).
 */
function checkRange(shader: string, name: string, r: Required<BufferRange>, align: number): Required<BufferRange> {
  const what = `kernel '${shader}': binding '${name}' (buffer '${r.buffer.label}', ${r.buffer.size} bytes)`;
  if (r.offset % align !== 0) {
    throw new ShaderError(`${what} starts at byte ${r.offset}, not a multiple of minStorageBufferOffsetAlignment (${align}): pass the offset as a param and bind the whole buffer`);
  }
  if (r.size <= 0 || r.size % 4 !== 0 || r.offset + r.size > r.buffer.size) {
    throw new ShaderError(`${what}: range [${r.offset}, ${r.offset + r.size}) is empty, not a multiple of 4 bytes or past the end`);
  }
  return r;
}

/** Shape checks for kernel wrappers: a binding must hold at least `bytes` bytes. */
export function expectBytes(shader: string, name: string, b: Bindable, bytes: number): void {
  const size = asRange(b).size;
  if (size < bytes) throw new ShaderError(`kernel '${shader}': binding '${name}' has ${size} bytes, needs ${bytes}`);
}

/** Shape checks for kernel wrappers: a named condition on params. */
export function expectThat(shader: string, ok: boolean, what: string): void {
  if (!ok) throw new ShaderError(`kernel '${shader}': ${what}`);
}
