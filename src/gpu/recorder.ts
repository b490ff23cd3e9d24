// One command encoder and compute pass per step. Kernels record dispatches into it; their uniform params
// land in one arena that is written with a single writeBuffer right before the one submit. Bind groups are
// cached on (pipeline, buffers, arena slot), so re-recording the same step sequence (the decode loop)
// allocates nothing after the first step.
//
// A step's WebGPU errors are the step's failure: Dawn answers an invalid bind group or dispatch by dropping
// the whole command buffer and reporting an "uncaptured" error, after which read-backs return stale bytes.
// So everything a step does between its first write or dispatch and its submit runs inside validation and
// out-of-memory error scopes, and check() throws a GpuError naming the phase and the step's kernels
// involved before any result of the step is used. (No await happens between a step's first record and its
// submit, so two recorders on one device never interleave their scopes.)
import { GpuError } from '../errors.ts';
import { writeStorage } from './buffers.ts';
import type { LaunchProfile } from './launch-profile.ts';
import type { PipelineCache } from './pipelines.ts';

/** A buffer, or a byte range of one, bound to a kernel. */
export interface BufferRange {
  buffer: GPUBuffer;
  offset?: number;
  size?: number;
}
export type Bindable = GPUBuffer | BufferRange;

export function asRange(b: Bindable): Required<BufferRange> {
  if ('buffer' in b) return { buffer: b.buffer, offset: b.offset ?? 0, size: b.size ?? b.buffer.size - (b.offset ?? 0) };
  return { buffer: b, offset: 0, size: b.size };
}

/** One dispatch as a kernel records it: enough to replay it (Recorder.dispatch) or to say what it ran. */
export interface DispatchEvent {
  pipeline: { id: number; pipeline: GPUComputePipeline; layout: GPUBindGroupLayout };
  buffers: Required<BufferRange>[];
  /** The packed uniform bytes; only valid during the call (copy them to keep them). */
  params: Uint8Array;
  grid: [number, number, number];
  /** The kernel's shader name. */
  label: string;
}

/**
 * Told of each dispatch before it is recorded, with the recorder, so it may record a copy or write ahead of
 * it. Tools only (per-dispatch profiles, benchmark input overrides); production leaves it unset.
 */
export type DispatchListener = (event: DispatchEvent, rec: Recorder) => void;

const UNIFORM_ALIGN = 256; // minUniformBufferOffsetAlignment's guaranteed maximum
const MAX_CACHED_BIND_GROUPS = 16384;

export class Recorder {
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private arena: GPUBuffer | null = null;
  private readonly arenaBytes: Uint8Array<ArrayBuffer>;
  private arenaUsed = 0;
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 0;
  /** Dispatches recorded so far, for dispatches-per-token figures. */
  dispatchesTotal = 0;
  /** Submissions so far: per-step scratch written with write() (the row maps) restarts at each. */
  submits = 0;
  /** The trace hook (see DispatchListener): one null check per dispatch when unset. */
  onDispatch: DispatchListener | null = null;
  /** The open step's kernels and the labels of the buffers each binds (for error messages). */
  private stepKernels: StepKernel[] = [];
  private scoped = false;
  private readonly stepErrors: Promise<GpuError | null>[] = [];

  /**
   * `profile` decides every kernel's launch shape (defineKernel's `launch`). `maxDispatches` bounds the
   * parameterized dispatches of one step (256 bytes of uniform arena each); the arena is fixed so bind groups
   * recorded earlier in the step stay valid.
   */
  constructor(
    readonly device: GPUDevice,
    readonly pipelines: PipelineCache,
    /** Read at every record; DeepseekModel.useProfile swaps it between steps (tune). */
    public profile: LaunchProfile,
    readonly maxDispatches = 4096,
  ) {
    this.arenaBytes = new Uint8Array(maxDispatches * UNIFORM_ALIGN);
  }

  /** Records one dispatch; `params` are the packed uniform bytes (empty when the kernel has none). */
  dispatch(
    pipeline: { id: number; pipeline: GPUComputePipeline; layout: GPUBindGroupLayout },
    buffers: Required<BufferRange>[],
    params: Uint8Array,
    grid: [number, number, number],
    label: string,
  ): void {
    if (grid.some((n) => n === 0)) return; // nothing to do: a zero-sized dispatch
    this.onDispatch?.({ pipeline, buffers, params, grid, label }, this);
    this.openScope();
    this.stepKernels.push({ kernel: label, buffers }); // labels are read only when a step fails
    let slot = -1;
    if (params.length) {
      slot = this.arenaUsed;
      this.arenaUsed += Math.ceil(params.length / UNIFORM_ALIGN) * UNIFORM_ALIGN;
      if (this.arenaUsed > this.arenaBytes.length) {
        throw new Error(`Recorder: more than ${this.maxDispatches} dispatches in one step (at '${label}'); submit() more often or raise maxDispatches`);
      }
      this.arenaBytes.set(params, slot);
    }
    const arena = slot >= 0 ? this.ensureArena() : null;
    const key = [pipeline.id, slot, ...buffers.map((b) => `${this.idOf(b.buffer)}:${b.offset}:${b.size}`)].join('|');
    let group = this.bindGroups.get(key);
    if (!group) {
      const entries: GPUBindGroupEntry[] = buffers.map((b, binding) => ({ binding, resource: b }));
      if (arena) entries.push({ binding: entries.length, resource: { buffer: arena, offset: slot, size: params.length } });
      group = this.device.createBindGroup({ label, layout: pipeline.layout, entries });
      // A steady decode loop reuses a fixed set; only one-off work (tests, prefill of many sizes) can grow it.
      if (this.bindGroups.size >= MAX_CACHED_BIND_GROUPS) this.bindGroups.clear();
      this.bindGroups.set(key, group);
    }
    const pass = this.computePass();
    pass.setPipeline(pipeline.pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(grid[0], grid[1], grid[2]);
    this.dispatchesTotal++;
  }

  /** Buffer-to-buffer copy (ends the current compute pass; the next dispatch opens a new one). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number): void {
    this.openScope();
    this.stepKernels.push({ kernel: 'copy', buffers: [{ buffer: src }, { buffer: dst }] });
    this.endPass();
    this.commandEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, size);
  }

  /** queue.writeBuffer of a step's input (token ids...), inside the step's error scopes. */
  write(buffer: GPUBuffer, offset: number, data: ArrayBufferView): void {
    this.openScope();
    writeStorage(this.device, buffer, offset, data);
  }

  /**
   * Writes the uniform arena, then submits everything recorded as one command buffer. `phase` names the
   * step in a GpuError ('decode step', 'prefill'...).
   */
  submit(phase = 'step'): void {
    this.endPass();
    if (this.arenaUsed) this.device.queue.writeBuffer(this.ensureArena(), 0, this.arenaBytes, 0, this.arenaUsed);
    if (this.encoder) this.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    this.arenaUsed = 0;
    this.submits++;
    this.closeScope(phase);
  }

  /**
   * Resolves when every submitted step ran without a WebGPU error and every shader compiled; throws
   * GpuError (ShaderError for a shader) otherwise. Call it before using anything a step read back.
   */
  async check(): Promise<void> {
    const errors = await Promise.all(this.stepErrors.splice(0));
    await this.pipelines.check();
    const first = errors.find((e) => e !== null);
    if (first) throw first;
  }

  private openScope(): void {
    if (this.scoped) return;
    this.scoped = true;
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
  }

  private closeScope(phase: string): void {
    if (!this.scoped) return;
    this.scoped = false;
    const kernels = this.stepKernels;
    this.stepKernels = [];
    const scopes = [this.device.popErrorScope(), this.device.popErrorScope()]; // innermost (validation) first
    this.stepErrors.push(Promise.all(scopes).then(([validation, oom]) => {
      const error = validation ?? oom;
      return error ? stepError(phase, validation ? 'validation' : 'out-of-memory', error.message, kernels) : null;
    }, (e: unknown) => new GpuError(`WebGPU error scope in '${phase}' failed (device lost?): ${(e as Error)?.message ?? e}`)));
  }

  /** Frees the arena and forgets cached bind groups (buffers they point at may be gone). */
  destroy(): void {
    if (this.scoped) this.closeScope('destroy');
    this.arena?.destroy();
    this.arena = null;
    this.bindGroups.clear();
  }

  private ensureArena(): GPUBuffer {
    if (!this.arena) {
      this.arena = this.device.createBuffer({
        label: 'uniform arena',
        size: this.arenaBytes.length,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      });
    }
    return this.arena;
  }

  private idOf(buffer: GPUBuffer): number {
    let id = this.bufferIds.get(buffer);
    if (id === undefined) this.bufferIds.set(buffer, (id = this.nextBufferId++));
    return id;
  }

  private commandEncoder(): GPUCommandEncoder {
    return (this.encoder ??= this.device.createCommandEncoder());
  }

  private computePass(): GPUComputePassEncoder {
    return (this.pass ??= this.commandEncoder().beginComputePass());
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }
}

/**
 * The error of a failed step, naming the kernels involved: those whose label or bound buffers' labels the
 * WebGPU message quotes (Dawn quotes object labels), or every kernel of the step when it quotes none.
 */
/** A kernel (or copy) recorded in the open step, with the buffers it touches. */
interface StepKernel {
  kernel: string;
  buffers: readonly { buffer: GPUBuffer }[];
}

function stepError(phase: string, kind: string, message: string, kernels: StepKernel[]): GpuError {
  const quoted = new Set([...message.matchAll(/"([^"]+)"/g)].map((m) => m[1]));
  const named = kernels.filter((k) => quoted.has(k.kernel) || k.buffers.some((b) => quoted.has(b.buffer.label)));
  const list = [...new Set((named.length ? named : kernels).map((k) => k.kernel))];
  const shown = list.length > 12 ? `${list.slice(0, 12).join(', ')}, ... (${list.length})` : list.join(', ');
  const text = message.trimEnd();
  return new GpuError(`WebGPU ${kind} error in '${phase}' (kernels: ${shown || 'none'}): ${text.length > 2000 ? `${text.slice(0, 2000)}...` : text}`);
}
