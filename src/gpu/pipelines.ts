// Compute pipelines cached by (shader, overrides, flags), with explicit bind group layouts so bind groups
// can be shared and cached. WGSL compile errors are re-thrown by check() as ShaderError with the
// kernel's name and the .wgsl file and line (mapped back through #include).
import { ShaderError } from '../errors.ts';
import { expandShader, type ExpandedShader } from './shaders.ts';

export type BindingAccess = 'read' | 'read_write';

export interface PipelineKey {
  shader: string;
  /** Storage bindings in @binding order; a uniform `params` binding follows when hasParams. */
  bindings: BindingAccess[];
  hasParams: boolean;
  overrides: Record<string, number>;
  flags: Record<string, boolean>;
}

export interface CachedPipeline {
  id: number;
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  source: ExpandedShader;
}

export class PipelineCache {
  private readonly pipelines = new Map<string, CachedPipeline>();
  private readonly pending: Promise<string | null>[] = [];

  constructor(
    private readonly device: GPUDevice,
    private readonly sources?: Record<string, string>,
  ) {}

  get(key: PipelineKey): CachedPipeline {
    const cacheKey = JSON.stringify([key.shader, key.bindings, key.hasParams, sorted(key.overrides), sorted(key.flags)]);
    const hit = this.pipelines.get(cacheKey);
    if (hit) return hit;

    const source = expandShader(key.shader, key.flags, this.sources);
    const module = this.device.createShaderModule({ label: key.shader, code: source.code });
    this.pending.push(compileErrors(module, key.shader, source));
    const entries: GPUBindGroupLayoutEntry[] = key.bindings.map((access, binding) => ({
      binding,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type: access === 'read' ? 'read-only-storage' : 'storage' },
    }));
    if (key.hasParams) {
      entries.push({ binding: entries.length, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } });
    }
    const layout = this.device.createBindGroupLayout({ label: key.shader, entries });
    const pipeline = this.device.createComputePipeline({
      label: key.shader,
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: 'main', constants: key.overrides },
    });
    const cached = { id: this.pipelines.size, pipeline, layout, source };
    this.pipelines.set(cacheKey, cached);
    return cached;
  }

  /** Resolves when every shader compiled so far is known good; throws ShaderError otherwise. */
  async check(): Promise<void> {
    const errors = (await Promise.all(this.pending.splice(0))).filter((e): e is string => e !== null);
    if (errors.length) throw new ShaderError(errors.join('\n'));
  }
}

function sorted<T>(record: Record<string, T>): [string, T][] {
  return Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

async function compileErrors(module: GPUShaderModule, shader: string, source: ExpandedShader): Promise<string | null> {
  const info = await module.getCompilationInfo();
  const errors = info.messages.filter((m) => m.type === 'error');
  if (!errors.length) return null;
  return errors
    .map((m) => {
      const at = source.origin[m.lineNum - 1];
      return `kernel '${shader}': ${at ? `${at.file}:${at.line}` : `line ${m.lineNum}`}: ${m.message}`;
    })
    .join('\n');
}
