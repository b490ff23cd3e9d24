// One fuzz case through what a load does on the CPU: config parse, checkpoint open (index, headers, slot
// check) and every tensor read and decoded as the reference model loads it. The outcome is a typed error
// or an accepted checkpoint whose every tensor reads back byte for byte as built.
import { bytesPerElement } from '../../src/checkpoint/dtypes.ts';
import { openModelFolder } from '../../src/checkpoint/model-folder.ts';
import { memoryFolder } from '../../src/checkpoint/sources/memory.ts';
import { CheckpointError, ConfigError, InputError } from '../../src/errors.ts';
import { loadReferenceWeights } from '../../src/reference/weights.ts';
import type { Files } from './mutations.ts';
import type { TinyCheckpoint } from './tiny-checkpoint.ts';

export const OUTCOMES = ['typed-error', 'accepted-intact', 'untyped-error', 'silent-corruption', 'hang', 'memory'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export interface CaseResult {
  outcome: Outcome;
  detail: string;
}

export interface CaseLimits {
  /**
   * CPU time (this process, user + system) one case may take. Not wall time: on a machine shared with other
   * test files a case waits for a core, and that wait is not the case's cost. A case still awaiting after
   * WALL_FACTOR times this much wall time is a hang too.
   */
  ms: number;
  /** Growth of JS heap plus array buffers one case may leave behind. */
  bytes: number;
}

export const DEFAULT_LIMITS: CaseLimits = { ms: 2000, bytes: 256 * 2 ** 20 };
const WALL_FACTOR = 10;

const isTyped = (e: unknown) => e instanceof ConfigError || e instanceof CheckpointError || e instanceof InputError;

async function load(base: TinyCheckpoint, files: Files): Promise<CaseResult> {
  let opened: Awaited<ReturnType<typeof openModelFolder>> | undefined;
  try {
    opened = await openModelFolder(memoryFolder(files, 'fuzz'));
    const { checkpoint, config } = opened;
    await loadReferenceWeights(checkpoint, config);
    for (const [name, want] of base.tensors) {
      if (!checkpoint.has(name)) return { outcome: 'silent-corruption', detail: `'${name}' is gone` };
      const info = checkpoint.info(name);
      if (info.shape.join() !== want.shape.join()) return { outcome: 'silent-corruption', detail: `'${name}' shape [${info.shape}] accepted` };
      // A relabel between same-width dtypes the slot's loader reads (BF16 <-> F16) is invisible in the file
      // format; any other dtype change accepted would be read wrongly (or crash the GPU loader).
      const relabel = info.dtype !== want.dtype;
      if (relabel && (!want.accepted.includes(info.dtype) || bytesPerElement(info.dtype) !== bytesPerElement(want.dtype))) {
        return { outcome: 'silent-corruption', detail: `'${name}' accepted as ${info.dtype} (built as ${want.dtype})` };
      }
      const got = await checkpoint.read(name);
      if (!sameBytes(got, want.bytes)) return { outcome: 'silent-corruption', detail: `'${name}' reads other bytes` };
    }
    return { outcome: 'accepted-intact', detail: '' };
  } catch (e) {
    const message = `${(e as Error)?.name}: ${String((e as Error)?.message ?? e).slice(0, 200)}`;
    return { outcome: isTyped(e) ? 'typed-error' : 'untyped-error', detail: message };
  } finally {
    await opened?.checkpoint.close();
  }
}

export async function runCase(base: TinyCheckpoint, files: Files, limits = DEFAULT_LIMITS): Promise<CaseResult> {
  const before = memory();
  const started = process.cpuUsage();
  const wall = limits.ms * WALL_FACTOR;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<CaseResult>((resolve) => {
    timer = setTimeout(() => resolve({ outcome: 'hang', detail: `still running after ${wall} ms` }), wall);
  });
  const result = await Promise.race([load(base, files), timeout]);
  clearTimeout(timer);
  // A case that blocks the event loop never lets the timer fire: measure the CPU time it took as well.
  const used = process.cpuUsage(started);
  const ms = (used.user + used.system) / 1000;
  if (result.outcome !== 'hang' && ms > limits.ms) return { outcome: 'hang', detail: `took ${ms.toFixed(0)} ms of CPU` };
  const grown = memory() - before;
  if (grown > limits.bytes) return { outcome: 'memory', detail: `${(grown / 2 ** 20).toFixed(0)} MiB more in use after the case` };
  return result;
}

function memory(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
